"""How portal tasks are enqueued and retried (portal/celery.py).

A task delayed inside a database transaction is sent only when that transaction commits,
and never if it rolls back. In-process (eager, no broker) a failing task fails at once;
on a worker it is retried with backoff.
"""

from collections.abc import Iterator
from unittest import mock

import pytest
from celery.app.task import Task
from celery.exceptions import Retry
from django.db import transaction

from portal.audit import audit_append
from portal.celery import app
from portal.models import AuditEvent

RAN: list[str] = []
FAILED_RUNS: list[str] = []


@app.task(name="tests.portal.remember")
def remember(note: str) -> None:
    RAN.append(note)


@app.task(name="tests.portal.always_fails")
def always_fails(note: str) -> None:
    FAILED_RUNS.append(note)
    raise ConnectionError(f"the platform's data source is down ({note})")


class RolledBack(Exception):
    pass


@pytest.fixture(autouse=True)
def eager() -> Iterator[None]:
    """Run tasks in-process, as the portal does without a broker; start with no runs."""
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    RAN.clear()
    FAILED_RUNS.clear()
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.mark.django_db(transaction=True)
def test_a_task_delayed_in_a_transaction_is_sent_only_when_it_commits() -> None:
    with transaction.atomic():
        audit_append(action="test.changed", target_type="test", target_id="1")
        remember.delay("after commit")

        # nothing is sent while the transaction is open
        assert RAN == []

    # and the task is sent once it committed, with the change visible
    assert RAN == ["after commit"]
    assert AuditEvent.objects.filter(action="test.changed").exists()


def change_that_fails(note: str) -> None:
    """Change something, delay a task, then fail: the transaction rolls back."""
    with transaction.atomic():
        audit_append(action="test.changed", target_type="test", target_id=note)
        remember.delay(note)
        raise RolledBack


@pytest.mark.django_db(transaction=True)
def test_a_task_delayed_in_a_transaction_that_rolls_back_is_never_sent() -> None:
    with pytest.raises(RolledBack):
        change_that_fails("rolled back")

    # then neither the change nor the task happened, not even after a later commit
    with transaction.atomic():
        audit_append(action="test.other", target_type="test", target_id="2")
    assert RAN == []
    assert not AuditEvent.objects.filter(action="test.changed").exists()


@pytest.mark.django_db(transaction=True)
def test_a_task_delayed_in_a_savepoint_that_rolls_back_is_dropped_with_it() -> None:
    with transaction.atomic():
        remember.delay("kept")
        with pytest.raises(RolledBack):
            change_that_fails("dropped")
        assert RAN == []

    assert RAN == ["kept"]
    assert list(AuditEvent.objects.values_list("action", flat=True)) == []


@pytest.mark.django_db(transaction=True)
def test_a_task_delayed_outside_a_transaction_is_sent_at_once() -> None:
    remember.delay("at once")

    assert RAN == ["at once"]


def test_in_process_a_failing_task_runs_once_and_raises_its_own_error() -> None:
    # Celery's own eager retry would raise Retry("Retry in 1s"), though nothing retries.
    with pytest.raises(ConnectionError, match="data source is down"):
        always_fails.delay("eager")

    assert FAILED_RUNS == ["eager"]


def test_in_process_without_propagation_a_failing_task_still_runs_only_once() -> None:
    # Celery's own eager retry would run it nine times in a row, ignoring the backoff.
    app.conf.task_eager_propagates = False

    result = always_fails.delay("eager")

    assert result.state == "FAILURE"
    assert isinstance(result.result, ConnectionError)
    assert FAILED_RUNS == ["eager"]


def test_on_a_worker_a_failing_task_is_retried_later_with_backoff() -> None:
    # given the task as a worker runs it: its first delivery, not in-process
    always_fails.push_request(
        id="delivery-1",
        args=["worker"],
        kwargs={},
        retries=0,
        is_eager=False,
        called_directly=False,
    )
    try:
        with mock.patch.object(Task, "apply_async") as send:
            # when it fails
            with pytest.raises(Retry):
                always_fails.run("worker")
    finally:
        always_fails.pop_request()

    # then it ran once, and was sent again as retry #1, after a backoff of at most 2 s
    assert FAILED_RUNS == ["worker"]
    send.assert_called_once()
    options = send.call_args.kwargs
    assert options["retries"] == 1
    assert 0 <= options["countdown"] <= 2
