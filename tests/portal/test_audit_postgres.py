"""The audit log on PostgreSQL: append-only triggers, commit order, many writers, roles.

Each test needs PostgreSQL (the ``postgres`` fixture): it skips on SQLite, or fails with
REQUIRE_SERVICES=1. Tests whose other processes or connections must see the rows commit
them (``transactional_db``). Roles made here are named ``portal_audit_*_<unique>`` and
dropped afterwards: the server is shared.
"""

import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from portal.audit import audit_append, audit_verify
from portal.management.commands.setup_db_roles import AUDIT_TABLES
from portal.models import AuditEvent, AuditLeaf, AuditTreeHead
from portal.sequencer import audit_sequence
from portal.tree_heads import head_document
from tests.conftest import subprocess_database_url
from tests.portal import insider

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 8
EVENTS_PER_WRITER = 200
EVENTS_DURING_VERIFICATION = 600
# A column of each audit table, to try an UPDATE with.
COLUMN = {
    "portal_auditevent": "action",
    "portal_auditleaf": "hash",
    "portal_auditnode": "hash",
    "portal_audittreehead": "root_hash",
    "portal_auditpublication": "tsa_url",
}


def append_events(count: int, label: str = "test") -> list[AuditEvent]:
    return [
        audit_append(action="request.noted", target_type=label, target_id=str(n), data={"n": n})
        for n in range(1, count + 1)
    ]


def leaf_order() -> list[int]:
    return list(AuditLeaf.objects.order_by("index").values_list("event_id", flat=True))


def run_sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def kill_if_running(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def saved_head() -> dict[str, Any]:
    head = AuditTreeHead.objects.order_by("-tree_size").first()
    assert head is not None
    return json.loads(json.dumps(head_document(head)))


@pytest.fixture
def full_log(postgres: None) -> None:
    """Three events in the tree, and a publication, so that every audit table has a row."""
    append_events(3)
    audit_sequence(publish=True)


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_the_triggers_refuse_to_update_or_delete_any_audit_row(
    full_log: None, table: str, operation: str
) -> None:
    statement = (
        f"UPDATE {table} SET {COLUMN[table]} = {COLUMN[table]}"  # noqa: S608
        if operation == "UPDATE"
        else f"DELETE FROM {table}"  # noqa: S608
    )
    with pytest.raises(ProgrammingError) as refused, transaction.atomic():
        run_sql(statement)
    assert f"audit events are append-only: {operation} refused on {table}" in str(refused.value)
    assert audit_verify().ok is True


def test_the_inserting_transaction_is_recorded_whatever_the_insert_says(postgres: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        (mine,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO portal_auditevent (created_at, actor_label, action, target_type, "
            "target_id, data, prev_hash, xact) VALUES (now(), 'system', 'forged', '', '', "
            "'{}', '', 1) RETURNING xact"
        )
        (recorded,) = cursor.fetchone()
    assert recorded == mine != 1


@pytest.mark.parametrize("move", ["edit", "reorder", "forged head"])
def test_an_insider_with_the_triggers_off_is_caught_by_a_saved_head(
    postgres: None, move: str
) -> None:
    # given seven events in the tree and a head saved outside the database
    events = append_events(7)
    audit_sequence(publish=False)
    saved = saved_head()

    # when someone who can switch the triggers off rewrites history and every hash
    if move == "edit":
        insider.edit_event(events[2].seq, lambda event: setattr(event, "data", {"n": 30}))
        insider.rebuild_tree()
    elif move == "reorder":
        order = leaf_order()
        order[0], order[6] = order[6], order[0]
        insider.rebuild_tree(order)
    else:
        insider.edit_event(events[2].seq, lambda event: setattr(event, "data", {"n": 30}))
        insider.rebuild_tree(sign=False)

    # then the saved head shows it (and the triggers fire again)
    report = audit_verify(against=saved)
    assert report.ok is False
    assert "the saved tree head's root" in report.describe() or (
        "its signature does not verify" in report.describe()
    )
    with pytest.raises(ProgrammingError), transaction.atomic():
        run_sql("DELETE FROM portal_auditevent")


def test_an_event_committed_late_is_sequenced_once_and_never_skipped(
    postgres: None, transactional_db: None
) -> None:
    # given two committed events
    early = append_events(2, label="early")
    # and another connection that inserts an event but does not commit yet
    with psycopg.connect(subprocess_database_url()) as late:
        (late_seq,) = late.execute(
            "INSERT INTO portal_auditevent (created_at, actor_label, action, target_type, "
            "target_id, data, prev_hash) VALUES (now(), 'system', 'request.noted', 'late', "
            "'1', '{}', '') RETURNING seq"
        ).fetchone()
        # and three more events that commit before it, with higher numbers
        after = append_events(3, label="after")
        assert late_seq < after[0].seq

        # when the sequencer runs while the late transaction is still open
        first = audit_sequence(publish=False)

        # then what was committed is in the tree within that run, the late one is not
        assert first.appended == 5
        assert leaf_order() == [event.seq for event in early + after]
        # and the horizon stayed below the open transaction
        (late_xact,) = late.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        assert AuditTreeHead.objects.get(tree_size=5).horizon <= late_xact

        # when the late transaction commits, after events with higher numbers were sequenced
        late.commit()

    second = audit_sequence(publish=False)
    third = audit_sequence(publish=False)

    # then it is sequenced by the next run, after them, and only once
    assert (second.appended, third.appended) == (1, 0)
    assert leaf_order() == [event.seq for event in early + after] + [late_seq]
    assert AuditLeaf.objects.filter(event_id=late_seq).count() == 1
    report = audit_verify()
    assert (report.ok, report.tree_size, report.events) == (True, 6, 6), report.describe()


def test_a_rolled_back_insert_holds_nothing_back(postgres: None, transactional_db: None) -> None:
    with psycopg.connect(subprocess_database_url()) as aborted:
        aborted.execute(
            "INSERT INTO portal_auditevent (created_at, actor_label, action, target_type, "
            "target_id, data, prev_hash) VALUES (now(), 'system', 'gone', '', '', '{}', '')"
        )
        kept = append_events(2)
        aborted.rollback()
    append_events(1, label="later")
    result = audit_sequence(publish=False)
    assert result.appended == 3
    assert kept[0].seq in leaf_order()
    assert not AuditEvent.objects.filter(action="gone").exists()
    assert audit_verify().ok is True


@pytest.mark.timeout(900)
def test_eight_writers_and_the_sequencer_at_once_leave_every_event_once_in_order(
    postgres: None,
    transactional_db: None,
    subprocess_env: dict[str, str],
    python: str,
    tmp_path: Path,
) -> None:
    labels = [f"writer-{number}" for number in range(1, WRITERS + 1)]
    logs = {label: tmp_path / f"{label}.log" for label in labels}

    # when eight processes append 200 events each, one per transaction, while this
    # process runs the sequencer again and again
    runs = []
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
        while any(writer.poll() is None for writer in writers):
            runs.append(audit_sequence(publish=False).appended)
        for writer in writers:
            writer.wait(timeout=600)
    runs.append(audit_sequence(publish=False).appended)

    for label, writer in zip(labels, writers, strict=True):
        assert writer.returncode == 0, f"{label} failed:\n{logs[label].read_text()}"
    # then every event is in the tree exactly once, at contiguous positions
    total = WRITERS * EVENTS_PER_WRITER
    assert sum(runs) == total
    assert sorted(AuditLeaf.objects.values_list("index", flat=True)) == list(range(total))
    assert AuditLeaf.objects.values("event").distinct().count() == total
    # and the sequencer ran while the writers wrote
    assert len([count for count in runs if count]) > 1
    # and each writer's events are in the order it committed them (each began after
    # the one before committed: the tree respects that)
    data = dict(AuditEvent.objects.values_list("seq", "data"))
    written: dict[str, list[int]] = defaultdict(list)
    for seq in leaf_order():
        written[data[seq]["writer"]].append(data[seq]["n"])
    assert written == {label: list(range(1, EVENTS_PER_WRITER + 1)) for label in labels}
    report = audit_verify()
    assert (report.ok, report.tree_size) == (True, total), report.describe()


@pytest.mark.timeout(900)
def test_verifying_while_another_process_appends_never_reports_a_break(
    postgres: None,
    transactional_db: None,
    subprocess_env: dict[str, str],
    python: str,
    tmp_path: Path,
) -> None:
    append_events(3)
    audit_sequence(publish=False)
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
        writer.stdin.write("go\n")
        writer.stdin.close()
        reports = []
        while writer.poll() is None:
            audit_sequence(publish=False)
            reports.append(audit_verify())
        writer.wait(timeout=600)

    assert writer.returncode == 0, f"the writer failed:\n{log.read_text()}"
    total = 3 + EVENTS_DURING_VERIFICATION
    assert len({report.tree_size for report in reports if 3 < report.tree_size < total}) > 1
    assert [report.describe() for report in reports if not report.ok] == []
    audit_sequence(publish=False)
    final = audit_verify()
    assert (final.ok, final.tree_size) == (True, total), final.describe()


def test_verify_audit_in_its_own_process_against_a_saved_head(
    postgres: None,
    transactional_db: None,
    subprocess_env: dict[str, str],
    python: str,
    tmp_path: Path,
) -> None:
    events = append_events(4)
    audit_sequence(publish=False)
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(saved_head()))
    command = [python, "manage.py", "verify_audit", "--against", str(head_file)]

    intact = subprocess.run(
        command, cwd=ROOT, env=subprocess_env, capture_output=True, text=True, timeout=120
    )
    assert (intact.returncode, intact.stderr) == (0, "")
    assert "matches the saved tree head of size 4" in intact.stdout

    insider.edit_event(events[1].seq, lambda event: setattr(event, "action", "x.hidden"))
    insider.rebuild_tree()
    broken = subprocess.run(
        command, cwd=ROOT, env=subprocess_env, capture_output=True, text=True, timeout=120
    )
    assert broken.returncode == 1
    assert "do not give the saved tree head's root" in broken.stderr


# --- Roles -----------------------------------------------------------------------------------


# The roles get a password: a server that asks for one over TCP (as CI's may) lets them in.
ROLE_PASSWORD = "portal-audit-test-role"  # noqa: S105 (a throwaway role's, dropped after)


@dataclass(frozen=True)
class DatabaseRoles:
    owner: str
    runtime: str
    runtime_url: str  # the runtime role's DATABASE_URL, on a database migrated by the owner


def _database_url(user: str) -> str:
    settings = connection.settings_dict
    return (
        f"postgres://{user}:{ROLE_PASSWORD}@{settings.get('HOST') or '127.0.0.1'}:"
        f"{settings.get('PORT') or 5432}/{settings['NAME']}"
    )


@pytest.fixture
def db_roles(
    postgres: None, transactional_db: None, unique: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DatabaseRoles]:
    """The owner and runtime roles, as production sets them up.

    In CI, ``.ci/run`` has made them on the cluster as README's production steps say (the
    roles, a database the owner owns and migrated, ``setup_db_roles`` as the superuser)
    and names them in PORTAL_TEST_DB_OWNER and PORTAL_TEST_RUNTIME_DATABASE_URL: the test
    runs against those. Elsewhere (``make test`` on a machine without them) it makes
    throwaway roles on the test database with ``setup_db_roles``, and drops them after.
    """
    runtime_url = os.environ.get("PORTAL_TEST_RUNTIME_DATABASE_URL", "")
    if runtime_url:
        owner = os.environ.get("PORTAL_TEST_DB_OWNER", "")
        if not owner:
            pytest.fail("PORTAL_TEST_RUNTIME_DATABASE_URL is set without PORTAL_TEST_DB_OWNER")
        yield DatabaseRoles(owner, urlsplit(runtime_url).username or "", runtime_url)
        return
    owner, runtime = f"portal_audit_owner_{unique}", f"portal_audit_app_{unique}"
    monkeypatch.setenv("PORTAL_AUDIT_TEST_ROLE_PASSWORD", ROLE_PASSWORD)
    try:
        call_command(
            "setup_db_roles",
            *("--owner", owner, "--runtime", runtime),
            *("--owner-password-env", "PORTAL_AUDIT_TEST_ROLE_PASSWORD"),
            *("--runtime-password-env", "PORTAL_AUDIT_TEST_ROLE_PASSWORD"),
        )
        yield DatabaseRoles(owner, runtime, _database_url(runtime))
    finally:
        with connection.cursor() as cursor:
            for role in (owner, runtime):
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone() is None:
                    continue
                cursor.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
                cursor.execute(f'DROP OWNED BY "{role}"')
                cursor.execute(f'DROP ROLE "{role}"')


def _run_as(env: dict[str, str], python: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (our interpreter, manage.py)
        [python, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


APPEND_AND_SEQUENCE = (
    "from portal.audit import audit_append; from portal.sequencer import audit_sequence; "
    "audit_append(action='request.noted'); print(audit_sequence().tree_size)"
)


def test_the_runtime_role_may_insert_and_read_the_log_but_never_change_it(
    db_roles: DatabaseRoles, subprocess_env: dict[str, str], python: str
) -> None:
    # the portal runs as the runtime role: it appends, sequences and signs a head
    env = {**subprocess_env, "DATABASE_URL": db_roles.runtime_url}
    first = _run_as(env, python, "shell", "-c", APPEND_AND_SEQUENCE)
    assert first.returncode == 0, first.stderr
    size = int(first.stdout.strip().splitlines()[-1])

    with psycopg.connect(db_roles.runtime_url, autocommit=True) as conn:
        # it reads and inserts
        (count,) = conn.execute("SELECT count(*) FROM portal_auditevent").fetchone()
        assert count == size
        conn.execute(
            "INSERT INTO portal_auditevent (created_at, actor_label, action, target_type, "
            "target_id, data, prev_hash) VALUES (now(), 'system', 'request.noted', '', '', "
            "'{}', '')"
        )
        # but it cannot update, delete or empty any audit table
        for table in AUDIT_TABLES:
            for statement in (
                f"UPDATE {table} SET {COLUMN[table]} = {COLUMN[table]}",  # noqa: S608
                f"DELETE FROM {table}",  # noqa: S608
                f"TRUNCATE {table}",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                    conn.execute(statement)
                assert f"permission denied for table {table}" in str(refused.value), statement
        # nor switch their triggers off, nor set itself up as a replica
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            conn.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER ALL")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        # while the portal's other tables stay writable for it
        conn.execute("UPDATE django_session SET expire_date = expire_date")
        # nothing it tried changed the log
        (after,) = conn.execute("SELECT count(*) FROM portal_auditevent").fetchone()
        assert after == size + 1
        # the owner owns the audit tables and their trigger functions
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = ANY(%s)", [AUDIT_TABLES]
        ).fetchall()
        assert owners == [(db_roles.owner,)]
        functions = conn.execute(
            "SELECT DISTINCT proowner::regrole::text FROM pg_proc "
            "WHERE proname LIKE 'portal_audit%%'"
        ).fetchall()
        assert functions == [(db_roles.owner,)]

    # and the portal, still as that role, sequences the events and verifies the whole log
    second = _run_as(env, python, "shell", "-c", APPEND_AND_SEQUENCE)
    assert second.returncode == 0, second.stderr
    assert int(second.stdout.strip().splitlines()[-1]) == size + 2
    verified = _run_as(env, python, "verify_audit")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_setup_db_roles_refuses_a_runtime_role_that_no_grant_would_limit(
    postgres: None, transactional_db: None, unique: str
) -> None:
    from django.core.management.base import CommandError

    owner = f"portal_audit_owner_{unique}"
    with pytest.raises(CommandError, match="superuser"):
        call_command("setup_db_roles", "--owner", owner, "--runtime", "postgres")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [owner])
        assert cursor.fetchone() is None  # rolled back with the rest
