"""The portal's Celery app with test-only hooks, for the delivery fault tests.

Started as ``celery -A tests.requests_app.fault_worker worker``, so the portal's code
carries no test hook: everything here is switched on by the environment of the worker
process the test starts.

``FAULT_VISIBILITY_SECONDS``
    Hand an unacknowledged task out again after this many seconds (production waits an
    hour), and look for such tasks every second: a killed worker's task comes back while
    the test waits.
``FAULT_PAUSE_AT`` = ``stream`` | ``stored``, with ``FAULT_MARKER`` and ``FAULT_PAUSE_SECONDS``
    Pause the first seal at that point, after writing the marker file, long enough for
    the test to SIGKILL the worker there: ``stream`` once more than one age chunk of
    ciphertext has been written (in the middle of encryption), ``stored`` once the
    sealed file is in storage but before its row is created.
"""

import os
import time
from pathlib import Path
from typing import Any

import django

from portal.celery import app

django.setup()

from requests_app.delivery import sealing  # noqa: E402
from requests_app.lifecycle import storage as orphans  # noqa: E402  (needs the apps loaded)

__all__ = ["app"]

AGE_CHUNK = 64 * 1024

if visibility := os.environ.get("FAULT_VISIBILITY_SECONDS"):
    app.conf.broker_transport_options = {
        "visibility_timeout": int(visibility),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def _pause(note: str) -> None:
    Path(os.environ["FAULT_MARKER"]).write_text(note)
    time.sleep(float(os.environ.get("FAULT_PAUSE_SECONDS", "120")))


_pause_at = os.environ.get("FAULT_PAUSE_AT")

if _pause_at == "stream":
    _write = sealing.HashingWriter.write

    def _write_then_pause(self: sealing.HashingWriter, data: bytes) -> int:
        before = self.size
        written = _write(self, data)
        if before <= AGE_CHUNK < self.size:
            _pause(f"stream {self.size}")
        return written

    sealing.HashingWriter.write = _write_then_pause  # type: ignore[method-assign]

elif _pause_at == "stored":

    class _PausingStorage:
        def __init__(self, storage: Any) -> None:
            self._storage = storage

        def save(self, name: str, content: Any, **kwargs: Any) -> str:
            stored = self._storage.save(name, content, **kwargs)
            _pause(f"stored {stored}")
            return stored

        def __getattr__(self, name: str) -> Any:
            return getattr(self._storage, name)

    # Sealing stores through requests_app.lifecycle.storage.storage_save: pause right after it.
    orphans.default_storage = _PausingStorage(orphans.default_storage)  # type: ignore[assignment]
