"""The audit chain on PostgreSQL: the append-only trigger, and appends from many processes.

Each test needs PostgreSQL (the ``postgres`` fixture): it skips on SQLite, or fails with
REQUIRE_SERVICES=1. Tests whose other processes must see the rows commit them
(``transactional_db``).
"""

import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from portal.audit import audit_append, audit_chain_verify
from portal.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
TRIGGER = "portal_auditevent_append_only"
WRITERS = 8
EVENTS_PER_WRITER = 500
EVENTS_DURING_VERIFICATION = 1000


def append_events(count: int) -> list[AuditEvent]:
    return [
        audit_append(action="request.noted", target_type="test", target_id=str(n), data={"n": n})
        for n in range(1, count + 1)
    ]


def stored_rows() -> list[tuple]:
    return list(AuditEvent.objects.order_by("seq").values_list())


def trigger_state() -> str:
    """Return pg_trigger.tgenabled of the append-only trigger: "O" when it fires."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgname = %s "
            "AND tgrelid = 'portal_auditevent'::regclass",
            [TRIGGER],
        )
        (state,) = cursor.fetchone()
    return state


@contextmanager
def append_only_trigger_disabled() -> Iterator[None]:
    """Disable the trigger, as the table's owner can, and enable it again afterwards."""
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while checks of deferred foreign keys are pending: run them.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE portal_auditevent DISABLE TRIGGER {TRIGGER}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE portal_auditevent ENABLE TRIGGER {TRIGGER}")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def kill_if_running(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def run_sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def save_edited_event() -> None:
    event = AuditEvent.objects.get(seq=2)
    event.action = "request.rejected"
    event.save()


CHANGES: dict[str, tuple[str, Callable[[], object]]] = {
    "model save": ("UPDATE", save_edited_event),
    "queryset update": (
        "UPDATE",
        lambda: AuditEvent.objects.filter(seq=2).update(data={"n": 99}),
    ),
    "raw update": ("UPDATE", lambda: run_sql("UPDATE portal_auditevent SET seq = seq + 10")),
    "model delete": ("DELETE", lambda: AuditEvent.objects.get(seq=3).delete()),
    "queryset delete": ("DELETE", lambda: AuditEvent.objects.all().delete()),
    "raw delete": ("DELETE", lambda: run_sql("DELETE FROM portal_auditevent WHERE seq = 3")),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_the_trigger_refuses_to_update_or_delete_an_audit_event(
    postgres: None, change: tuple[str, Callable[[], object]]
) -> None:
    # given a chain of three events
    append_events(3)
    before = stored_rows()
    operation, attempt = change

    # when the portal's own connection tries to change one
    with pytest.raises(ProgrammingError) as excinfo, transaction.atomic():
        attempt()

    # then the database refuses, and nothing changed
    assert f"audit events are append-only: {operation} refused on portal_auditevent" in str(
        excinfo.value
    )
    assert stored_rows() == before
    assert audit_chain_verify().ok is True


def test_with_the_trigger_disabled_an_edited_event_is_detected(postgres: None) -> None:
    # given a chain of five events
    events = append_events(5)

    # when the table's owner disables the trigger and edits event #3
    with append_only_trigger_disabled():
        run_sql("""UPDATE portal_auditevent SET data = '{"n": 99}' WHERE seq = 3""")

    # then the trigger is back, and verification stops at #3
    assert trigger_state() == "O"
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (3, events[2].pk)
    assert "edited" in report.reason


def test_with_the_trigger_disabled_a_deleted_event_is_detected(postgres: None) -> None:
    append_events(5)

    with append_only_trigger_disabled():
        run_sql("DELETE FROM portal_auditevent WHERE seq = 3")

    assert trigger_state() == "O"
    report = audit_chain_verify()
    assert report.ok is False
    assert report.broken_seq == 3
    assert "missing" in report.reason


def test_with_the_trigger_disabled_a_reordered_pair_is_detected(postgres: None) -> None:
    events = append_events(5)

    # seq is unique and checked row by row, so the swap goes through a free number
    with append_only_trigger_disabled():
        run_sql(
            "UPDATE portal_auditevent SET seq = 1000000 WHERE seq = 2",
            "UPDATE portal_auditevent SET seq = 2 WHERE seq = 3",
            "UPDATE portal_auditevent SET seq = 3 WHERE seq = 1000000",
        )

    assert trigger_state() == "O"
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (2, events[2].pk)
    assert "reordered" in report.reason


def test_verify_audit_in_its_own_process_exits_0_then_1_once_an_event_is_deleted(
    postgres: None, transactional_db: None, subprocess_env: dict[str, str], python: str
) -> None:
    command = [python, "manage.py", "verify_audit"]
    events = append_events(3)

    intact = subprocess.run(
        command, cwd=ROOT, env=subprocess_env, capture_output=True, text=True, timeout=120
    )

    assert (intact.returncode, intact.stderr) == (0, "")
    assert intact.stdout.strip() == f"audit chain intact: 3 events, head {events[2].hash}"

    with transaction.atomic(), append_only_trigger_disabled():
        run_sql("DELETE FROM portal_auditevent WHERE seq = 2")
    broken = subprocess.run(
        command, cwd=ROOT, env=subprocess_env, capture_output=True, text=True, timeout=120
    )

    assert broken.returncode == 1
    assert broken.stdout == ""
    assert "audit chain broken at event #2: event #2 is missing" in broken.stderr


@pytest.mark.timeout(900)
def test_eight_processes_appending_at_once_leave_one_valid_chain(
    postgres: None,
    transactional_db: None,
    subprocess_env: dict[str, str],
    python: str,
    tmp_path: Path,
) -> None:
    # given no chain head yet, so that the writers also race to create it
    AuditChainHead.objects.all().delete()
    labels = [f"writer-{number}" for number in range(1, WRITERS + 1)]
    # stderr goes to files: a pipe nobody reads yet could fill and stall its writer
    logs = {label: tmp_path / f"{label}.log" for label in labels}

    # when eight processes, all connected, start appending 500 events each at once
    with ExitStack() as cleanup:
        writers = []
        for label in labels:
            writer = subprocess.Popen(
                [python, "tests/portal/audit_writer.py", str(EVENTS_PER_WRITER), label],
                cwd=ROOT,
                env=subprocess_env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=cleanup.enter_context(logs[label].open("w")),
                text=True,
            )
            cleanup.enter_context(writer)
            cleanup.callback(kill_if_running, writer)
            writers.append(writer)
        for label, writer in zip(labels, writers, strict=True):
            if writer.stdout.readline() != "ready\n":
                writer.wait(timeout=60)
                pytest.fail(f"{label} did not start:\n{logs[label].read_text()}")
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.close()
        for writer in writers:
            writer.wait(timeout=600)

    # then every writer succeeded
    for label, writer in zip(labels, writers, strict=True):
        assert writer.returncode == 0, f"{label} failed:\n{logs[label].read_text()}"
    # and their events form one chain numbered 1 to 4,000, without gaps
    events = list(AuditEvent.objects.order_by("seq").values_list("seq", "data"))
    assert len(events) == WRITERS * EVENTS_PER_WRITER
    assert [seq for seq, _ in events] == list(range(1, WRITERS * EVENTS_PER_WRITER + 1))
    # and holding each writer's 500 events, in the order it wrote them
    written: dict[str, list[int]] = defaultdict(list)
    for _, data in events:
        written[data["writer"]].append(data["n"])
    assert written == {label: list(range(1, EVENTS_PER_WRITER + 1)) for label in labels}
    # and the writers did interleave, so the head lock was contended
    turns = sum(1 for (_, a), (_, b) in pairwise(events) if a["writer"] != b["writer"])
    assert turns > WRITERS - 1
    # and the chain verifies, its head at #4,000
    report = audit_chain_verify()
    assert report.ok is True, report.describe()
    assert report.events == WRITERS * EVENTS_PER_WRITER
    assert AuditChainHead.objects.get(pk=1).seq == WRITERS * EVENTS_PER_WRITER


@pytest.mark.timeout(900)
def test_verifying_while_another_process_appends_never_reports_a_break(
    postgres: None,
    transactional_db: None,
    subprocess_env: dict[str, str],
    python: str,
    tmp_path: Path,
) -> None:
    # given a short chain, and a process ready to append 1,000 events, one per transaction
    append_events(3)
    log = tmp_path / "writer.log"
    with ExitStack() as cleanup:
        writer = subprocess.Popen(
            [python, "tests/portal/audit_writer.py", str(EVENTS_DURING_VERIFICATION), "writer"],
            cwd=ROOT,
            env=subprocess_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=cleanup.enter_context(log.open("w")),
            text=True,
        )
        cleanup.enter_context(writer)
        cleanup.callback(kill_if_running, writer)
        if writer.stdout.readline() != "ready\n":
            writer.wait(timeout=60)
            pytest.fail(f"the writer did not start:\n{log.read_text()}")

        # when the chain is verified again and again until the writer is done
        writer.stdin.write("go\n")
        writer.stdin.close()
        reports = []
        while writer.poll() is None:
            reports.append(audit_chain_verify())
        writer.wait(timeout=600)

    # then the writer succeeded, and verification ran while events were being added
    assert writer.returncode == 0, f"the writer failed:\n{log.read_text()}"
    total = 3 + EVENTS_DURING_VERIFICATION
    seen_mid_append = {report.events for report in reports if 3 < report.events < total}
    assert len(seen_mid_append) > 1
    # and no verification reported a break
    assert [report.describe() for report in reports if not report.ok] == []
    # and the finished chain verifies in full
    final = audit_chain_verify()
    assert (final.ok, final.events) == (True, total), final.describe()
