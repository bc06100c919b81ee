"""The audit chain: how events are linked and hashed, and how verification finds tampering.

These run on any database. Tampering edits rows directly, as someone with write access to
the table could; on PostgreSQL the fixture ``audit_rows_editable`` first disables the
append-only trigger (the trigger itself is tested in ``test_audit_postgres.py``).
"""

import hashlib
import json
import logging
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from io import StringIO

import pytest
import rfc8785
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone as django_timezone

from accounts.models import Role
from portal.audit import audit_append, audit_chain_verify, audit_event_hash
from portal.models import AuditChainHead, AuditEvent
from portal.tasks import audit_chain_verify_task
from tests.factories import make_user

pytestmark = pytest.mark.django_db

TRIGGER = "portal_auditevent_append_only"

# The RFC 8785 encoding of KNOWN_EVENT, written out by hand: keys sorted, no whitespace,
# the time in UTC with microseconds, non-ASCII text as raw UTF-8, 1.5 as the shortest
# number that reads back as the same float.
KNOWN_CANONICAL = (
    '{"action":"request.approved","actor_id":42,"actor_label":"officer@example.org",'
    '"created_at":"2026-03-14T14:09:26.535897Z","data":{"a":null,"after":"approved",'
    '"amount":1.5,"before":"submitted","ids":[3,1,2],"note":"Überprüft ✓",'
    '"quote":"say \\"hi\\"\\n","€":true},"prev_hash":"' + "ab" * 32 + '","seq":7,'
    '"target_id":"R-2026-0001","target_type":"requests_app.legalrequest"}'
).encode()
KNOWN_HASH = "c83b3a8fd41f99075cd79407230fc029d15e5f066de4888a11de63e0c6e54bff"
KNOWN_EVENT = {
    "seq": 7,
    # 15:09 at UTC+1, so the hash must see 14:09Z.
    "created_at": datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=timezone(timedelta(hours=1))),
    "actor_id": 42,
    "actor_label": "officer@example.org",
    "action": "request.approved",
    "target_type": "requests_app.legalrequest",
    "target_id": "R-2026-0001",
    "data": {
        "€": True,
        "quote": 'say "hi"\n',
        "note": "Überprüft ✓",
        "ids": [3, 1, 2],
        "before": "submitted",
        "amount": 1.5,
        "after": "approved",
        "a": None,
    },
    "prev_hash": "ab" * 32,
}


@pytest.fixture
def audit_rows_editable(db: None):
    """Let the test update and delete audit rows, as the owner of the table could."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE portal_auditevent DISABLE TRIGGER {TRIGGER}")
    yield
    with connection.cursor() as cursor:
        # ALTER TABLE refuses while checks of deferred foreign keys are pending: run them.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE portal_auditevent ENABLE TRIGGER {TRIGGER}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def append_events(count: int) -> list[AuditEvent]:
    return [
        audit_append(action="request.noted", target_type="test", target_id=str(n), data={"n": n})
        for n in range(1, count + 1)
    ]


def head_state() -> tuple[int, str] | None:
    return AuditChainHead.objects.filter(pk=1).values_list("seq", "hash").first()


def forge_event(*, seq: int, prev_hash: str) -> AuditEvent:
    """Insert an event whose own hash is right for its content, as a forger would."""
    fields = {
        "seq": seq,
        "created_at": django_timezone.now(),
        "actor_id": None,
        "actor_label": "system",
        "action": "request.approved",
        "target_type": "test",
        "target_id": "forged",
        "data": {"forged": True},
        "prev_hash": prev_hash,
    }
    return AuditEvent.objects.create(**fields, hash=audit_event_hash(**fields))


def test_an_empty_chain_verifies() -> None:
    report = audit_chain_verify()

    assert report.ok is True
    assert report.events == 0
    assert report.head_hash == "0" * 64


def test_appended_events_form_one_chain_from_the_genesis_hash() -> None:
    # given an officer and a few events, one of them theirs
    officer = make_user(role=Role.OFFICER, email="officer@example.org")
    events = append_events(3)
    events.append(audit_append(actor=officer, action="request.submitted", target=officer))

    # then the events are numbered from 1 and each links to the one before
    stored = list(AuditEvent.objects.order_by("seq"))
    assert [event.seq for event in stored] == [1, 2, 3, 4]
    assert [event.pk for event in stored] == [event.pk for event in events]
    assert stored[0].prev_hash == "0" * 64
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.hash
    assert len({event.hash for event in stored}) == 4
    # and the actor is both linked and recorded by name
    assert (stored[3].actor_id, stored[3].actor_label) == (officer.pk, "officer@example.org")
    assert (stored[3].target_type, stored[3].target_id) == ("accounts.user", str(officer.pk))
    assert stored[0].actor_label == "system"
    # and the head names the last event
    assert head_state() == (4, stored[3].hash)
    # and verification agrees
    report = audit_chain_verify()
    assert (report.ok, report.events, report.head_hash) == (True, 4, stored[3].hash)
    assert report.describe() == f"audit chain intact: 4 events, head {stored[3].hash}"


def test_the_event_hash_is_the_sha256_of_the_rfc8785_encoding() -> None:
    # the hand-written encoding is what RFC 8785 makes of it, and hashes to the literal
    assert rfc8785.dumps(json.loads(KNOWN_CANONICAL)) == KNOWN_CANONICAL
    assert hashlib.sha256(KNOWN_CANONICAL).hexdigest() == KNOWN_HASH

    # and the portal hashes the same event to the same value
    assert audit_event_hash(**KNOWN_EVENT) == KNOWN_HASH


def test_dates_decimals_and_uuids_are_stored_as_they_were_hashed() -> None:
    # given data with values JSON has no type for
    request_uuid = uuid.UUID("5f0c8a4e-3b1d-4c2a-9e7f-0123456789ab")
    data = {
        "decided_on": date(2026, 3, 14),
        "decided_at": datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC),
        "fee": Decimal("12.50"),
        "request": request_uuid,
        "ratio": 0.1,
        "largest_safe_integer": 2**53 - 1,
        "nested": {"amounts": [Decimal("1.10"), None, True]},
        "text": "Überprüft ✓\u2028",
    }

    # when it is appended and read back from the database
    event = audit_append(action="request.decided", data=data)
    stored = AuditEvent.objects.get(pk=event.pk)

    # then the stored data is the plain JSON that was hashed
    plain = {
        "decided_on": "2026-03-14",
        "decided_at": "2026-03-14T15:09:26.535Z",
        "fee": "12.50",
        "request": str(request_uuid),
        "ratio": 0.1,
        "largest_safe_integer": 2**53 - 1,
        "nested": {"amounts": ["1.10", None, True]},
        "text": "Überprüft ✓\u2028",
    }
    assert stored.data == plain
    assert event.data == plain
    recomputed = audit_event_hash(
        seq=stored.seq,
        created_at=stored.created_at,
        actor_id=stored.actor_id,
        actor_label=stored.actor_label,
        action=stored.action,
        target_type=stored.target_type,
        target_id=stored.target_id,
        data=stored.data,
        prev_hash=stored.prev_hash,
    )
    assert recomputed == stored.hash == event.hash
    assert audit_chain_verify().ok is True


@pytest.mark.parametrize(
    "data",
    [{"n": 2**53}, {"n": -(2**53)}, {"nested": [{"n": 2**64}]}],
    ids=["2**53", "-(2**53)", "nested 2**64"],
)
def test_an_integer_beyond_2_53_is_refused_and_nothing_is_stored(data: dict) -> None:
    # given a chain of two events
    append_events(2)
    head_before = head_state()

    # when an event carries an integer JSON cannot hold exactly
    with pytest.raises(rfc8785.IntegerDomainError):
        audit_append(action="request.noted", data=data)

    # then nothing was stored and the chain is as it was
    assert AuditEvent.objects.count() == 2
    assert head_state() == head_before
    assert audit_chain_verify().ok is True


@pytest.mark.parametrize(
    "data",
    [{"bytes": 1e16}, {"n": -(2.0**60)}, {"nested": [{"n": 1.5e300}]}],
    ids=["1e16", "-(2.0**60)", "nested 1.5e300"],
)
def test_a_float_beyond_2_53_is_refused_and_nothing_is_stored(data: dict) -> None:
    # PostgreSQL's jsonb reads such a float back as an integer beyond 2**53, which the
    # verifier could not hash: it would be stored unlike it was hashed.
    append_events(2)
    head_before = head_state()

    with pytest.raises(rfc8785.CanonicalizationError):
        audit_append(action="request.noted", data=data)

    assert AuditEvent.objects.count() == 2
    assert head_state() == head_before
    assert audit_chain_verify().ok is True


class RolledBack(Exception):
    pass


def test_an_append_in_a_transaction_that_rolls_back_leaves_no_event() -> None:
    # given a chain of two events
    append_events(2)
    head_before = head_state()

    # when a change appends its event and then fails
    def change_that_fails() -> None:
        with transaction.atomic():
            audit_append(action="request.approved", target_type="test", target_id="x")
            raise RolledBack

    with pytest.raises(RolledBack):
        change_that_fails()

    # then the event went with it and the chain is as it was
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1, 2]
    assert head_state() == head_before
    assert audit_chain_verify().ok is True
    # and the next append continues the chain at #3
    assert audit_append(action="request.noted").seq == 3
    assert audit_chain_verify().events == 3


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"n": 99}},
        {"action": "request.rejected"},
        {"actor_label": "someone-else@example.org"},
        {"target_id": "999"},
        {"created_at": datetime(2020, 1, 1, tzinfo=UTC)},
        {"hash": "f" * 64},
    ],
    ids=["data", "action", "actor_label", "target_id", "created_at", "hash"],
)
def test_an_edited_event_is_detected(audit_rows_editable: None, change: dict) -> None:
    # given a chain of five events
    events = append_events(5)

    # when one field of event #3 is changed in place
    AuditEvent.objects.filter(pk=events[2].pk).update(**change)

    # then verification stops at #3, calling it edited
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (3, events[2].pk)
    assert report.events == 2
    assert "edited" in report.reason


def test_a_deleted_event_in_the_middle_is_detected(audit_rows_editable: None) -> None:
    events = append_events(5)

    AuditEvent.objects.filter(pk=events[2].pk).delete()

    report = audit_chain_verify()
    assert report.ok is False
    assert report.broken_seq == 3
    assert report.events == 2
    assert "missing" in report.reason


def test_a_deleted_last_event_is_detected_through_the_head(audit_rows_editable: None) -> None:
    # given a chain of five events
    events = append_events(5)

    # when the newest is deleted, leaving a chain that links correctly on its own
    AuditEvent.objects.filter(pk=events[4].pk).delete()

    # then only the head can tell, and does
    report = audit_chain_verify()
    assert report.ok is False
    assert report.broken_seq == 5
    assert report.events == 4
    assert "removed from the end" in report.reason


def test_two_swapped_events_are_detected(audit_rows_editable: None) -> None:
    # given a chain of five events
    events = append_events(5)

    # when #2 and #3 swap places (through a free number, as seq is unique)
    AuditEvent.objects.filter(pk=events[1].pk).update(seq=1_000_000)
    AuditEvent.objects.filter(pk=events[2].pk).update(seq=2)
    AuditEvent.objects.filter(pk=events[1].pk).update(seq=3)

    # then the event now at #2 does not link to #1
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (2, events[2].pk)
    assert report.events == 1
    assert "reordered" in report.reason


def test_a_forged_event_with_a_wrong_previous_hash_is_detected() -> None:
    # given a chain of three events
    events = append_events(3)

    # when a forger inserts #4 with a correct hash of its own, linked to #1
    forged = forge_event(seq=4, prev_hash=events[0].hash)

    # then verification stops at the forged event
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (4, forged.pk)
    assert report.events == 3
    assert "inserted" in report.reason


def test_a_forged_event_spliced_into_the_middle_breaks_the_link_of_the_next(
    audit_rows_editable: None,
) -> None:
    # given a chain of four events
    events = append_events(4)

    # when a forger moves #3 and #4 up by one and puts a well-linked forgery at #3
    AuditEvent.objects.filter(pk=events[3].pk).update(seq=5)
    AuditEvent.objects.filter(pk=events[2].pk).update(seq=4)
    forge_event(seq=3, prev_hash=events[1].hash)

    # then the original #3, now at #4, does not link to the forgery
    report = audit_chain_verify()
    assert report.ok is False
    assert (report.broken_seq, report.broken_id) == (4, events[2].pk)
    assert report.events == 3
    assert "inserted" in report.reason


def test_a_forged_event_appended_without_moving_the_head_is_detected() -> None:
    # given a chain of three events
    events = append_events(3)

    # when a forger appends a well-linked, well-hashed #4 but leaves the head alone
    forged = forge_event(seq=4, prev_hash=events[2].hash)

    # then the chain links, but the head disagrees with it from #4 on
    report = audit_chain_verify()
    assert report.ok is False
    assert report.broken_seq == forged.seq
    assert report.events == 4
    assert "added without moving the head" in report.reason


def test_a_replaced_last_event_is_detected_through_the_head(audit_rows_editable: None) -> None:
    # given a chain of three events
    events = append_events(3)

    # when a forger swaps #3 for a well-linked, well-hashed event of their own
    AuditEvent.objects.filter(pk=events[2].pk).delete()
    forge_event(seq=3, prev_hash=events[1].hash)

    # then the chain links, but the head remembers another #3
    report = audit_chain_verify()
    assert report.ok is False
    assert report.broken_seq == 3
    assert report.events == 3
    assert "the last event was replaced" in report.reason


def test_verify_audit_command_reports_an_intact_chain() -> None:
    events = append_events(3)
    out = StringIO()

    call_command("verify_audit", stdout=out)

    assert out.getvalue().strip() == f"audit chain intact: 3 events, head {events[2].hash}"


def test_verify_audit_command_fails_with_exit_1_naming_the_broken_event(
    audit_rows_editable: None,
) -> None:
    # given a chain whose event #2 was edited
    events = append_events(3)
    AuditEvent.objects.filter(pk=events[1].pk).update(action="request.rejected")
    out = StringIO()

    # when the command runs
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=out)

    # then it exits 1 naming the event, and claims nothing on stdout
    assert excinfo.value.returncode == 1
    assert str(excinfo.value).startswith(
        f"audit chain broken at event #2 (row id {events[1].pk}): "
    )
    assert out.getvalue() == ""


def test_the_verify_task_reports_an_intact_chain() -> None:
    events = append_events(3)

    outcome = audit_chain_verify_task()

    assert outcome == {
        "ok": True,
        "events": 3,
        "head": events[2].hash,
        "broken_seq": None,
        "reason": "",
    }


def test_the_verify_task_reports_and_logs_a_broken_chain(
    audit_rows_editable: None, caplog: pytest.LogCaptureFixture
) -> None:
    # given a chain whose event #2 was deleted
    events = append_events(3)
    AuditEvent.objects.filter(pk=events[1].pk).delete()

    # when the scheduled task runs (eagerly, in this process)
    with caplog.at_level(logging.ERROR, logger="portal.tasks"):
        outcome = audit_chain_verify_task()

    # then it reports the break and logs an error naming the event
    assert outcome["ok"] is False
    assert outcome["broken_seq"] == 2
    assert "missing" in outcome["reason"]
    errors = [r for r in caplog.records if r.name == "portal.tasks" and r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        "audit chain broken at event #2: event #2 is missing (next is #3)"
    ]
