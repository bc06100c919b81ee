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
    ciphertext has been written (in the middle of encryption, into the storage's folder
    but still without a name), ``stored`` once the sealed file is in storage but before
    its row is created.
"""

import os
import time
from pathlib import Path
from typing import Any

import django

from portal.celery import app

django.setup()

from requests_app.delivery import sealing  # noqa: E402

__all__ = ["app"]

AGE_CHUNK = 64 * 1024
SLICE = 4 * 1024

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

    def _write_then_pause(self: sealing.HashingWriter, data: memoryview) -> int:
        # The seal writes what the pipe from age holds, up to a MiB at a time (a small
        # response whole): written here in 4 KiB slices, so that the pause comes just
        # after the first age chunk, well before the end.
        for start in range(0, len(data), SLICE):
            before = self.size
            _write(self, data[start : start + SLICE])
            if before <= AGE_CHUNK < self.size:
                _pause(f"stream {self.size}")
        return len(data)

    sealing.HashingWriter.write = _write_then_pause  # type: ignore[method-assign]

elif _pause_at == "stored":
    _storage_write = sealing.storage_write

    def _store_then_pause(name: str, write: Any) -> str:
        stored = _storage_write(name, write)
        _pause(f"stored {stored}")
        return stored

    # Sealing stores through requests_app.lifecycle.storage.storage_write: pause right after it.
    sealing.storage_write = _store_then_pause  # type: ignore[assignment]
