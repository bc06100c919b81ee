"""A real Celery worker on Redis runs the portal's tasks against the real database."""

import subprocess
import sys

import pytest

from portal.audit import audit_append
from portal.celery import app
from portal.tasks import audit_chain_verify_task, audit_sequence_task

pytestmark = pytest.mark.services


def forget_celery_connections() -> None:
    """Drop what the app made on first use under another configuration.

    The connection pools and the result backend keep the settings they were made with:
    an eager ``.apply()`` in an earlier test leaves a backend that has no results.
    """
    app._pool = None
    app.amqp._producer_pool = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def worker(subprocess_env: dict[str, str], redis_url: str, unique: str, tmp_path):
    """Start `celery worker` in its own process on a queue of this test's own."""
    queue = f"test-{unique}"
    env = dict(subprocess_env, CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url)
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            "--hostname",
            f"{queue}@%h",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False)
    forget_celery_connections()
    try:
        yield queue
    finally:
        app.conf.update(
            {k: previous[k] for k in ("broker_url", "result_backend", "task_always_eager")}
        )
        forget_celery_connections()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_redis_completes_the_audit_verification_task(worker: str, tmp_path) -> None:
    # given three committed events
    for number in range(3):
        audit_append(action="test.event", target_type="test", target_id=str(number))

    # when the sequencer, then the verification, go through Redis to the worker
    sequenced = audit_sequence_task.apply_async(queue=worker)
    result = audit_chain_verify_task.apply_async(queue=worker)
    try:
        tree = sequenced.get(timeout=120)
        outcome = result.get(timeout=120)
    except Exception:
        print((tmp_path / "worker.log").read_text())
        raise

    # then the worker put the events into the tree, read the same log and found it intact
    assert (tree["appended"], tree["tree_size"]) == (3, 3)
    assert outcome["ok"] is True
    assert (outcome["events"], outcome["tree_size"]) == (3, 3)
    assert result.status == "SUCCESS"


def test_a_worker_process_loads_the_pdf_engine_as_it_starts_not_at_its_first_seal(
    subprocess_env: dict[str, str],
):
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "import portal.celery\n"
        "from celery.signals import worker_process_init\n"
        "before = 'weasyprint' in sys.modules\n"
        "worker_process_init.send(sender=None)\n"
        "print(before, 'weasyprint' in sys.modules)\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
