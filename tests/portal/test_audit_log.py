"""The audit log: how events are written and encoded, sequenced into the tree, and how
verification finds tampering, up to an insider who rewrote the database.

These run on any database (SQLite by default; the PostgreSQL specifics are in
``test_audit_postgres.py``, which runs the insider cases there too). Tampering goes
through ``tests/portal/insider.py``: on PostgreSQL it switches the triggers off first.
"""

import json
import logging
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from portal import crypto, merkle
from portal.audit import audit_append, audit_verify, canonical_event
from portal.models import AuditEvent, AuditLeaf, AuditTreeHead
from portal.sequencer import audit_sequence
from portal.tasks import audit_chain_verify_task
from portal.tree_heads import head_document
from tests.factories import make_user
from tests.portal import insider, rfc9162

pytestmark = pytest.mark.django_db

# The RFC 8785 encoding of KNOWN_EVENT, written out by hand: keys sorted, no whitespace,
# the time in UTC with microseconds, non-ASCII text as raw UTF-8, 1.5 as the shortest
# number that reads back as the same float.
KNOWN_CANONICAL = (
    '{"action":"request.approved","actor_id":42,"actor_label":"officer@example.org",'
    '"created_at":"2026-03-14T14:09:26.535897Z","data":{"a":null,"after":"approved",'
    '"amount":1.5,"before":"submitted","ids":[3,1,2],"note":"Überprüft ✓",'
    '"quote":"say \\"hi\\"\\n","€":true},"seq":7,'
    '"target_id":"R-2026-0001","target_type":"requests_app.legalrequest"}'
).encode()
# The same event from the hash-chain era: its document also holds prev_hash, and this is
# the SHA-256 the chain recorded for it (test_audit_chain.py's known answer before).
LEGACY_CANONICAL = KNOWN_CANONICAL.replace(
    b',"seq":7', b',"prev_hash":"' + b"ab" * 32 + b'","seq":7'
)
LEGACY_CHAIN_HASH = "c83b3a8fd41f99075cd79407230fc029d15e5f066de4888a11de63e0c6e54bff"
KNOWN_EVENT: dict[str, Any] = {
    "seq": 7,
    # 15:09 at UTC+1, so the encoding must say 14:09Z.
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
}


def append_events(count: int, start: int = 1) -> list[AuditEvent]:
    return [
        audit_append(action="request.noted", target_type="test", target_id=str(n), data={"n": n})
        for n in range(start, start + count)
    ]


def saved_head() -> dict[str, Any]:
    """The newest tree head as a witness keeps it: the JSON the API answers, round-tripped."""
    head = AuditTreeHead.objects.order_by("-tree_size").first()
    assert head is not None
    return json.loads(json.dumps(head_document(head)))


def leaf_order() -> list[int]:
    return list(AuditLeaf.objects.order_by("index").values_list("event_id", flat=True))


# --- Writing ---------------------------------------------------------------------------------


def test_the_canonical_event_is_rfc8785_of_its_fields() -> None:
    assert rfc8785.dumps(json.loads(KNOWN_CANONICAL)) == KNOWN_CANONICAL
    assert canonical_event(AuditEvent(**KNOWN_EVENT)) == KNOWN_CANONICAL
    assert merkle.leaf_hash(KNOWN_CANONICAL) == rfc9162.leaf(KNOWN_CANONICAL)


def test_an_event_of_the_chain_era_keeps_the_document_its_chain_hash_named() -> None:
    import hashlib

    legacy = AuditEvent(**KNOWN_EVENT, prev_hash="ab" * 32)
    assert canonical_event(legacy) == LEGACY_CANONICAL
    assert hashlib.sha256(LEGACY_CANONICAL).hexdigest() == LEGACY_CHAIN_HASH


def test_an_append_is_one_insert_into_the_event_table_and_locks_nothing() -> None:
    append_events(2)
    with CaptureQueriesContext(connection) as queries:
        audit_append(action="request.noted", target_type="test", target_id="x")
    statements = [query["sql"] for query in queries.captured_queries]
    # one INSERT (Django may wrap it in a savepoint on some backends: none here)
    assert len(statements) == 1, statements
    assert statements[0].startswith('INSERT INTO "portal_auditevent"')
    assert "FOR UPDATE" not in statements[0]


def test_events_get_increasing_numbers_and_record_their_actor() -> None:
    officer = make_user(role=Role.OFFICER, email="officer@example.org")
    events = append_events(3)
    events.append(audit_append(actor=officer, action="request.submitted", target=officer))

    stored = list(AuditEvent.objects.order_by("seq"))
    assert [event.seq for event in stored] == [event.seq for event in events]
    assert stored[0].seq < stored[1].seq < stored[2].seq < stored[3].seq
    assert (stored[3].actor_id, stored[3].actor_label) == (officer.pk, "officer@example.org")
    assert (stored[3].target_type, stored[3].target_id) == ("accounts.user", str(officer.pk))
    assert stored[0].actor_label == "system"
    assert all(event.prev_hash == "" for event in stored)


def test_dates_decimals_and_uuids_are_stored_as_they_are_encoded() -> None:
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

    event = audit_append(action="request.decided", data=data)
    audit_sequence(publish=False)
    stored = AuditEvent.objects.get(pk=event.pk)

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
    assert canonical_event(stored) == canonical_event(event)
    assert audit_verify().ok is True


@pytest.mark.parametrize(
    "data",
    [{"n": 2**53}, {"n": -(2**53)}, {"nested": [{"n": 2**64}]}],
    ids=["2**53", "-(2**53)", "nested 2**64"],
)
def test_an_integer_beyond_2_53_is_refused_and_nothing_is_stored(data: dict) -> None:
    append_events(2)
    with pytest.raises(rfc8785.IntegerDomainError):
        audit_append(action="request.noted", data=data)
    assert AuditEvent.objects.count() == 2


@pytest.mark.parametrize(
    "data",
    [{"bytes": 1e16}, {"n": -(2.0**60)}, {"nested": [{"n": 1.5e300}]}],
    ids=["1e16", "-(2.0**60)", "nested 1.5e300"],
)
def test_a_float_beyond_2_53_is_refused_and_nothing_is_stored(data: dict) -> None:
    # PostgreSQL's jsonb reads such a float back as an integer beyond 2**53, which could
    # not be encoded into a leaf: it would be stored unlike it was meant.
    append_events(2)
    with pytest.raises(rfc8785.CanonicalizationError):
        audit_append(action="request.noted", data=data)
    assert AuditEvent.objects.count() == 2


class RolledBack(Exception):
    pass


def test_an_append_in_a_transaction_that_rolls_back_leaves_no_event() -> None:
    kept = append_events(2)

    def change_that_fails() -> None:
        with transaction.atomic():
            audit_append(action="request.approved", target_type="test", target_id="x")
            raise RolledBack

    with pytest.raises(RolledBack):
        change_that_fails()

    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [e.seq for e in kept]
    result = audit_sequence(publish=False)
    assert (result.appended, result.tree_size) == (2, 2)
    assert audit_verify().ok is True


# --- Sequencing ------------------------------------------------------------------------------


def test_the_sequencer_puts_events_into_the_tree_once_and_signs_a_head() -> None:
    events = append_events(5)

    first = audit_sequence(publish=False)
    again = audit_sequence(publish=False)

    assert (first.appended, first.tree_size) == (5, 5)
    assert (again.appended, again.tree_size, again.head) == (0, 5, None)
    assert leaf_order() == [event.seq for event in events]
    head = first.head
    assert head is not None
    assert head.tree_size == 5
    entries = [canonical_event(event) for event in events]
    assert head.root_hash == rfc9162.mth(entries).hex()
    # the head verifies with the portal's public key, over exactly the three members
    message = rfc8785.dumps(
        {"tree_size": 5, "root_hash": head.root_hash, "timestamp": head.timestamp}
    )
    crypto.ed25519_verify(
        crypto.portal_signing_key().public_key(),
        crypto.b64decode_strict(head.signature),
        message,
    )
    # later events extend the same tree
    more = append_events(3, start=6)
    later = audit_sequence(publish=False)
    assert (later.appended, later.tree_size) == (3, 8)
    assert leaf_order() == [event.seq for event in events + more]
    report = audit_verify()
    assert (report.ok, report.events, report.tree_size, report.heads_checked) == (True, 8, 8, 2)


def test_the_sequencer_works_in_batches_without_losing_an_event() -> None:
    events = append_events(23)
    result = audit_sequence(limit=5, publish=False)
    assert (result.appended, result.tree_size) == (23, 23)
    assert leaf_order() == [event.seq for event in events]
    assert audit_verify().ok is True


def test_an_empty_log_verifies() -> None:
    report = audit_verify()
    assert (report.ok, report.events, report.tree_size) == (True, 0, 0)


@pytest.mark.parametrize("alarm", [0])
def test_events_the_sequencer_never_took_fail_verification(settings: Any, alarm: int) -> None:
    settings.AUDIT_SEQUENCE_ALARM_SECONDS = alarm
    append_events(2)
    audit_sequence(publish=False)
    append_events(1, start=3)  # inserted, never sequenced

    report = audit_verify()
    assert report.ok is False
    assert "1 events older than 0 s are not in the tree" in report.describe()


# --- Tampering -------------------------------------------------------------------------------


@pytest.fixture
def sequenced_log() -> list[AuditEvent]:
    """Seven events in the tree, a signed head over them."""
    events = append_events(7)
    audit_sequence(publish=False)
    return events


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"n": 99}},
        {"action": "request.rejected"},
        {"actor_label": "someone-else@example.org"},
        {"target_id": "999"},
        {"created_at": datetime(2020, 1, 1, tzinfo=UTC)},
        {"prev_hash": "f" * 64},
    ],
    ids=["data", "action", "actor_label", "target_id", "created_at", "prev_hash"],
)
def test_an_edited_event_is_detected(sequenced_log: list[AuditEvent], change: dict) -> None:
    target = sequenced_log[2]
    insider.edit_event(target.seq, lambda event: [setattr(event, k, v) for k, v in change.items()])

    report = audit_verify()
    assert report.ok is False
    assert f"event #{target.seq} (leaf 2) does not match its leaf hash" in report.describe()


def test_a_forged_head_in_the_database_is_detected(sequenced_log: list[AuditEvent]) -> None:
    # an insider without the key rewrites an event and the whole tree, and signs the
    # head with a key of their own
    insider.edit_event(sequenced_log[0].seq, lambda event: setattr(event, "data", {"n": -1}))
    insider.rebuild_tree(sign=False)

    report = audit_verify()
    assert report.ok is False
    assert "the stored tree head of size 7: its signature does not verify" in report.describe()


def test_an_insider_who_rewrote_everything_passes_the_internal_checks_only(
    sequenced_log: list[AuditEvent],
) -> None:
    # given a head saved outside the database, e.g. by a witness
    saved = saved_head()
    # when an insider with the key changes an event and recomputes every stored hash
    # and head
    insider.edit_event(sequenced_log[3].seq, lambda event: setattr(event, "action", "x.hidden"))
    insider.rebuild_tree(sign=True)

    # then the database agrees with itself (that is all a database can vouch for)...
    assert audit_verify().ok is True
    # ...but not with the saved head
    report = audit_verify(against=saved)
    assert report.ok is False
    assert "do not give the saved tree head's root" in report.describe()


# The insider's moves, each followed by recomputing every leaf, node and head and signing
# with the portal's own key: verification against a saved head must fail for each.
def _edit(events: list[AuditEvent]) -> None:
    insider.edit_event(events[4].seq, lambda event: setattr(event, "data", {"n": 4, "x": 1}))
    insider.rebuild_tree()


def _reorder(events: list[AuditEvent]) -> None:
    order = leaf_order()
    order[1], order[2] = order[2], order[1]
    insider.rebuild_tree(order)


def _delete(events: list[AuditEvent]) -> None:
    insider.delete_events(events[5].seq)
    insider.rebuild_tree()


def _delete_last(events: list[AuditEvent]) -> None:
    insider.delete_events(events[6].seq)
    insider.rebuild_tree()


def _swap_contents(events: list[AuditEvent]) -> None:
    # swap the contents of two rows, numbers kept: the leaves commit to seq
    first, second = (
        AuditEvent.objects.get(seq=events[0].seq),
        AuditEvent.objects.get(seq=events[1].seq),
    )
    insider.edit_event(first.seq, lambda event: setattr(event, "data", second.data))
    insider.edit_event(second.seq, lambda event: setattr(event, "data", first.data))
    insider.rebuild_tree()


INSIDER_MOVES = {
    "edit": _edit,
    "reorder": _reorder,
    "delete": _delete,
    "delete the last": _delete_last,
    "swap contents": _swap_contents,
}


@pytest.mark.parametrize("move", INSIDER_MOVES.values(), ids=INSIDER_MOVES.keys())
def test_verification_against_a_saved_head_fails_whatever_the_insider_recomputed(
    sequenced_log: list[AuditEvent], move: Any, tmp_path: Path
) -> None:
    saved = saved_head()
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(saved))
    call_command("verify_audit", "--against", str(head_file), stdout=StringIO())

    move(sequenced_log)

    with pytest.raises(CommandError) as failed:
        call_command("verify_audit", "--against", str(head_file), stdout=StringIO())
    assert failed.value.returncode == 1
    assert "saved tree head" in str(failed.value)


@pytest.mark.parametrize(
    "forgery",
    [
        {"root_hash": "0" * 64},
        {"tree_size": 6},
        {"timestamp": "2020-01-01T00:00:00.000000Z"},
        {"signature": "A" * 86 + "=="},
        {"key_id": "ed25519:" + "0" * 64},
    ],
    ids=["root", "size", "timestamp", "signature", "key id"],
)
def test_a_forged_saved_head_is_refused(sequenced_log: list[AuditEvent], forgery: dict) -> None:
    forged = {**saved_head(), **forgery}
    report = audit_verify(against=forged)
    assert report.ok is False
    assert "the saved tree head is not valid" in report.describe()


def test_a_head_signed_by_another_key_verifies_only_with_that_key(
    sequenced_log: list[AuditEvent], tmp_path: Path
) -> None:
    saved = saved_head()
    other = crypto.ed25519_private_key_generate().public_key()
    assert audit_verify(against=saved, public_key=other).ok is False
    pem = tmp_path / "portal.pem"
    pem.write_text(crypto.ed25519_public_key_pem(crypto.portal_signing_key().public_key()))
    out = StringIO()
    (tmp_path / "h.json").write_text(json.dumps(saved))
    call_command(
        "verify_audit", "--against", str(tmp_path / "h.json"), "--public-key", str(pem), stdout=out
    )
    assert "matches the saved tree head of size 7" in out.getvalue()


def test_a_saved_head_of_an_older_size_still_verifies_after_the_log_grew(
    sequenced_log: list[AuditEvent],
) -> None:
    saved = saved_head()
    append_events(9, start=8)
    audit_sequence(publish=False)
    report = audit_verify(against=saved)
    assert report.ok is True, report.describe()
    assert (report.tree_size, report.against_size) == (16, 7)


def test_a_changed_subtree_hash_is_detected(sequenced_log: list[AuditEvent]) -> None:
    from portal.models import AuditNode

    with insider.triggers_off():
        AuditNode.objects.filter(level=1, index=0).update(hash="ee" * 32)
    report = audit_verify()
    assert report.ok is False
    assert "subtree 1/0" in report.describe()


# --- The command and the task ----------------------------------------------------------------


def test_verify_audit_command_reports_an_intact_log(sequenced_log: list[AuditEvent]) -> None:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == (
        "audit log intact: 7 events, 7 in the tree, 1 signed tree heads verified"
    )


def test_audit_sequence_command_sequences_and_says_so() -> None:
    append_events(3)
    out = StringIO()
    call_command("audit_sequence", "--no-publish", stdout=out)
    assert out.getvalue().startswith("sequenced 3 events; the tree holds 3; signed tree head 3 ")


def test_the_verify_task_reports_and_logs_a_broken_log(
    sequenced_log: list[AuditEvent], caplog: pytest.LogCaptureFixture
) -> None:
    assert audit_chain_verify_task.apply().get()["ok"] is True
    insider.edit_event(sequenced_log[1].seq, lambda event: setattr(event, "action", "x"))
    with caplog.at_level(logging.ERROR, logger="portal.tasks"):
        result = audit_chain_verify_task.apply().get()
    assert result["ok"] is False
    assert "does not match its leaf hash" in caplog.text


def test_events_removed_from_the_end_are_detected_through_the_stored_head(
    sequenced_log: list[AuditEvent],
) -> None:
    insider.delete_events(sequenced_log[-1].seq)  # and its leaf; the head stays

    report = audit_verify()
    assert report.ok is False
    assert "the stored tree head of size 7 covers more leaves than the tree holds" in (
        report.describe()
    )
