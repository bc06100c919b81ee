"""Exactly one sealed response under faults: a worker killed mid-seal, a broker that is down.

Real processes throughout: a Celery worker (``celery worker`` in a subprocess, on the
test database) and a Redis server of the test's own on a free port, which the test
stops and starts. The shared Redis is never touched. Needs PostgreSQL (the worker
shares the test database) and ``redis-server``; with ``REQUIRE_SERVICES=1`` they fail
instead of skipping.
"""

import io
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyrage
import pytest
import redis
from django.utils import timezone

from portal.celery import app
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.delivery.tasks import disclosures_seal_pending
from requests_app.lifecycle.models import LegalRequest
from requests_app.review.services import disclosure_create
from tests.conftest import service_missing
from tests.requests_app.delivery_helpers import (
    age_identity_for,
    approved_decision,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# Enough records that the sealed file spans several age chunks, so a kill lands mid-stream.
IP_EVENTS = 20_000
AGE_MAGIC = b"age-encryption.org/v1"


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, logs=()) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    details = "\n".join(f"--- {path}\n{Path(path).read_text()}" for path in logs)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{details}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server of this test's own (no persistence), which the test may stop."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        log = (self.directory / "redis.log").open("a")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_for(self.answers, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        assert not self.answers()

    def queued(self) -> int:
        """Tasks waiting in the default queue plus tasks delivered but not acknowledged."""
        client = redis.Redis.from_url(self.url)
        return client.llen("celery") + client.hlen("unacked")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        service_missing("needs redis-server on PATH (apt-get install redis-server)")
    directory = tmp_path / "redis"
    directory.mkdir()
    server = OwnRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def broker(url: str) -> Iterator[None]:
    """Send this process's tasks to ``url`` for real (the test settings run them eagerly)."""
    keys = ("broker_url", "result_backend", "task_always_eager")
    previous = {key: app.conf[key] for key in keys}

    def forget_connections() -> None:
        # Connection pools and the result backend are made on first use and keep the
        # configuration they were made with; later tests must not inherit ours.
        app._pool = None
        app.amqp._producer_pool = None
        app._local.__dict__.pop("backend", None)

    app.conf.update(broker_url=url, result_backend=None, task_always_eager=False)
    forget_connections()
    try:
        yield
    finally:
        app.conf.update(previous)
        forget_connections()


class Workers:
    """Celery workers of the portal's app with the test hooks, each in its own process."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, **hooks: str) -> subprocess.Popen:
        number = len(self.processes) + 1
        log_path = self.directory / f"worker-{number}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "celery",
                    "-A", "tests.requests_app.fault_worker",
                    "worker",
                    "--pool=solo",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    "--loglevel=INFO",
                    "--hostname", f"fault-{number}@%h",
                ],
                env={**self.env, **hooks},
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def workers(subprocess_env, own_redis: OwnRedis, storage: Path, tmp_path: Path):
    env = dict(
        subprocess_env,
        CELERY_BROKER_URL=own_redis.url,
        SEALED_STORAGE_DIR=str(storage),
        FAULT_VISIBILITY_SECONDS="3",
    )
    group = Workers(env, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def sealed_files(storage: Path) -> list[Path]:
    """The files under sealed/ (intake keeps the authorities' documents elsewhere)."""
    return sorted(p for p in (storage / "sealed").rglob("*") if p.is_file())


def assert_one_sealed_response_that_opens(disclosure: Disclosure, identity) -> SealedResponse:
    (sealed,) = SealedResponse.objects.filter(disclosure=disclosure)
    assert SealedResponse.objects.filter(request=disclosure.request).count() == 1
    data = sealed.file.read()
    assert len(data) == sealed.size
    archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(data, [identity])))
    assert sorted(archive.namelist()) == ["certificate.pdf", "response.json", "response.json.sig"]
    assert disclosure.request.reference.encode() in archive.read("response.json")
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.SEALED
    assert LegalRequest.objects.get(pk=disclosure.request_id).status == "disclosed"
    assert AuditEvent.objects.filter(action="response.sealed").count() == 1
    return sealed


def sweep_as_beat_would(disclosure: Disclosure) -> None:
    """Run the sweeper through the broker, as celery beat does every two minutes.

    The sweeper leaves the newest minute's disclosures to their own on-commit enqueue;
    this one is made a little older instead of waiting.
    """
    Disclosure.objects.filter(pk=disclosure.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    disclosures_seal_pending.delay()


@pytest.mark.parametrize("killed_at", ["stream", "stored"])
def test_a_worker_killed_while_sealing_leaves_exactly_one_response_after_a_restart(
    client, own_redis, workers, storage, tmp_path, killed_at
):
    # Given a disclosure with a large record set, handed to delivery with a worker running
    # that pauses the seal at the chosen point.
    decision, officer, _token = approved_decision(client, ip_events=IP_EVENTS)
    identity = age_identity_for(officer)
    marker = tmp_path / "paused"
    with broker(own_redis.url):
        first = workers.start(FAULT_PAUSE_AT=killed_at, FAULT_MARKER=str(marker))
        disclosure = disclosure_create(decision=decision, reviewer=decision.confirmed_by)
        wait_for(marker.exists, timeout=120, what="the seal to pause", logs=workers.logs)

        # When the worker is killed there, mid-seal ...
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        note = marker.read_text()
        assert SealedResponse.objects.count() == 0
        disclosure.refresh_from_db()
        assert disclosure.state == Disclosure.State.PENDING
        assert own_redis.queued() == 1  # delivered, never acknowledged

        # ... and a new worker starts: the broker hands the task out again.
        workers.start()
        wait_for(
            lambda: SealedResponse.objects.filter(disclosure=disclosure).exists(),
            timeout=120,
            what="the restarted worker to seal",
            logs=workers.logs,
        )
        # The sweeper finds nothing left to do; even sealing again would change nothing.
        sweep_as_beat_would(disclosure)
        wait_for(
            lambda: own_redis.queued() == 0, timeout=60, what="an empty queue", logs=workers.logs
        )

    # Then there is exactly one sealed response, and it opens.
    sealed = assert_one_sealed_response_that_opens(disclosure, identity)
    files = sealed_files(storage)
    assert storage / sealed.file.name in files
    for path in files:  # whatever a killed run left is ciphertext, never plaintext
        assert path.read_bytes().startswith(AGE_MAGIC)
    if killed_at == "stream":
        # killed with part of the ciphertext written (to an anonymous temporary file)
        assert 64 * 1024 < int(note.split()[1]) < sealed.size
        assert files == [storage / sealed.file.name]
    else:
        # the killed run had stored its file but not its row: an orphan, sealed
        orphan = note.split()[1]
        assert orphan != sealed.file.name
        assert files == sorted([storage / sealed.file.name, storage / orphan])


def test_a_disclosure_recorded_while_redis_is_down_is_sealed_once_it_returns(
    client, own_redis, workers, caplog
):
    # Given a broker that is down.
    decision, officer, _token = approved_decision(client)
    identity = age_identity_for(officer)
    with broker(own_redis.url):
        own_redis.stop()

        # When a reviewer hands the approval to delivery: the disclosure is recorded, and
        # the enqueue after commit fails and is logged, without failing the reviewer's action.
        with caplog.at_level(logging.ERROR, logger="django.db.backends.base"):
            disclosure = disclosure_create(decision=decision, reviewer=decision.confirmed_by)
        failures = [r for r in caplog.records if "on_commit" in r.getMessage()]
        assert len(failures) == 1
        assert "requests_app.delivery.seal" in failures[0].getMessage()
        assert Disclosure.objects.get(pk=disclosure.pk).state == Disclosure.State.PENDING
        assert AuditEvent.objects.filter(action="disclosure.created").count() == 1
        assert SealedResponse.objects.count() == 0

        # And Redis comes back, with a worker, and the sweeper runs.
        own_redis.start()
        assert own_redis.queued() == 0  # the task was lost with the broker
        workers.start()
        sweep_as_beat_would(disclosure)
        wait_for(
            lambda: SealedResponse.objects.filter(disclosure=disclosure).exists(),
            timeout=120,
            what="the sweeper's seal",
            logs=workers.logs,
        )
        wait_for(
            lambda: own_redis.queued() == 0, timeout=60, what="an empty queue", logs=workers.logs
        )

    # Then the response is delivered, once.
    assert_one_sealed_response_that_opens(disclosure, identity)
