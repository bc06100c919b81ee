"""The queue's search (reference, case reference, agency, a target's value) and the overdue
flag on every open state, approved preservations included."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.lifecycle.clocks import is_overdue, overdue_q
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.lifecycle.targets import target_search_normalise, target_value_normalise
from requests_app.review.selectors import (
    TARGET_SEARCHED,
    QueueFilters,
    overdue_count,
    request_queue,
    target_search_digest,
)
from tests.audit_marks import audit_mark, audit_since
from tests.factories import log_in, make_agency, make_officer, make_user
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [pytest.mark.django_db]

S = LegalRequest.Status
QUEUE = "/review/"
PHONE = "+49301234567"


@pytest.fixture
def reviewer():
    return make_reviewer()


@pytest.fixture
def reviewer_client(client, reviewer):
    log_in(client, reviewer)
    return client


def references(response) -> set[str]:
    page = response.content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return set(re.findall(r'<a href="/review/([^/"]+)/">', body))


def row_of(response, reference: str) -> str:
    page = response.content.decode()
    start = page.index(f'<a href="/review/{reference}/">')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


# --- Search by reference, case reference, agency ------------------------------------------


def test_a_search_finds_by_reference_case_reference_or_agency_in_every_state(reviewer_client):
    hamburg = make_agency(name="Polizei Hamburg", country="DE")
    by_agency = make_legal_request(agency=hamburg)
    closed = make_legal_request(status=S.CLOSED, case_reference="HH-2026-0042")
    other = make_legal_request()

    def found(**params) -> set[str]:
        return references(reviewer_client.get(QUEUE, params))

    assert found(q=other.reference.lower()) == {other.reference}
    # A closed request is found by a search, though the queue's open work hides it.
    assert found(q="HH-2026-00") == {closed.reference}
    assert closed.reference not in found()
    assert found(q="hamburg") == {by_agency.reference}
    # A search combines with the filters: a closed request is not "received".
    assert found(q="HH-2026-0042", status=S.RECEIVED) == set()
    assert found(q="nothing like it") == set()


def test_a_search_without_a_target_is_not_recorded(reviewer_client):
    make_legal_request(case_reference="HH-1")
    mark = audit_mark()

    reviewer_client.get(QUEUE, {"q": "HH-1"})

    assert [e.action for e in audit_since(mark)] == []


# --- Search by a target's value ------------------------------------------------------------


def test_the_normalised_value_is_e164_for_phones_lower_case_for_addresses():
    assert target_search_normalise("+49 (30) 123-4567").value == PHONE
    assert target_search_normalise("0049 30 1234567").value == PHONE
    assert target_search_normalise("  Suspect@Example.ORG ").value == "suspect@example.org"
    assert target_search_normalise("Suspect_One").value == "Suspect_One"
    assert [target_search_normalise(v).kind for v in (PHONE, "a@b.example", "x")] == [
        "phone",
        "email",
        "identifier",
    ]


def test_a_target_search_matches_the_normalised_value_exactly_and_is_audited(
    reviewer_client, reviewer
):
    phone = make_legal_request(targets=[("phone", PHONE)], status=S.DISCLOSED)
    address = make_legal_request(targets=[("username", "suspect@example.org")])
    make_legal_request(targets=[("phone", "+49301234568")])
    make_legal_request(targets=[("username", "suspect")])
    mark = audit_mark()

    found = references(reviewer_client.get(QUEUE, {"target": "+49 30 123 45 67"}))
    found_address = references(reviewer_client.get(QUEUE, {"target": "Suspect@Example.org"}))
    found_part = references(reviewer_client.get(QUEUE, {"target": "4930123"}))

    assert found == {phone.reference}
    assert found_address == {address.reference}
    # Exact: part of a number finds nothing.
    assert found_part == set()
    events = audit_since(mark)
    assert [e.action for e in events] == [TARGET_SEARCHED] * 3
    first = events[0]
    assert first.actor_id == reviewer.pk
    assert first.data == {
        "kind": "phone",
        "digest": target_search_digest(PHONE),
        "found": 1,
        "more": False,
    }
    assert events[1].data["kind"] == "email"
    assert events[2].data["found"] == 0
    # The value itself is in no event, in any of its forms.
    stored = json.dumps([e.data for e in events])
    for form in (PHONE, "301234567", "suspect@example.org", "Suspect@Example.org", "4930123"):
        assert form not in stored


def test_an_email_target_is_found_whatever_the_case_of_its_local_part(reviewer_client):
    # Intake keeps the local part as the authority wrote it and lowers only the domain;
    # an API caller's signed value is stored as sent, capitals in the domain included.
    stored = target_value_normalise("email", "John@Example.ORG", region="DE")
    assert stored == "John@example.org"
    john = make_legal_request(targets=[("email", stored)])
    jane = make_legal_request(targets=[("email", "Jane.Doe@EXAMPLE.org")])
    make_legal_request(targets=[("email", "jon@example.org")])

    def found(value: str) -> set[str]:
        return references(reviewer_client.get(QUEUE, {"target": value}))

    for typed in ("john@example.org", "John@example.org", "JOHN@EXAMPLE.ORG", " John@Example.org"):
        assert found(typed) == {john.reference}, typed
    assert found("jane.doe@example.org") == {jane.reference}
    assert found("johnny@example.org") == set()


def test_an_identifier_target_is_still_matched_exactly(reviewer_client):
    one = make_legal_request(targets=[("username", "Suspect_One")])

    assert references(reviewer_client.get(QUEUE, {"target": "Suspect_One"})) == {one.reference}
    assert references(reviewer_client.get(QUEUE, {"target": "suspect_one"})) == set()
    assert references(reviewer_client.get(QUEUE, {"target": "SUSPECT_ONE"})) == set()


@pytest.mark.parametrize("value", ["John@example.org", PHONE, "Suspect_One"])
def test_a_target_search_can_read_the_index_on_the_lowered_value(postgres, reviewer, value):
    """Whatever was typed, the search's condition is the index's expression (PostgreSQL):
    with sequential scans priced out, the plan reads ``request_target_value_lower``."""
    from django.db import connection

    from requests_app.review.selectors import _filtered

    rows = _filtered(user=reviewer, filters=QueueFilters(target=value), now=timezone.now())
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "request_target_value_lower" in plan
    assert "Seq Scan on requests_app_requesttarget" not in plan


def test_the_digest_is_keyed_so_that_hashing_every_number_finds_nothing(settings):
    import hashlib

    digest = target_search_digest(PHONE)

    assert digest == target_search_digest("+49 30 1234567")
    assert digest != hashlib.sha256(PHONE.encode()).hexdigest()
    settings.SECRET_KEY = "another key entirely, for this test alone"
    assert target_search_digest(PHONE) != digest


@pytest.mark.parametrize("role", [Role.OFFICER, Role.VETTING_ADMIN])
def test_another_role_cannot_search_the_queue_and_nothing_is_recorded(client, role):
    make_legal_request(targets=[("phone", PHONE)])
    if role == Role.OFFICER:
        user = make_officer().user
    else:
        user = make_user(role=role)
    log_in(client, user)
    mark = audit_mark()

    response = client.get(QUEUE, {"target": PHONE, "q": "LR"})

    assert response.status_code == 403
    assert PHONE not in response.content.decode()
    assert audit_since(mark) == []


def test_the_selector_refuses_a_non_reviewer_before_searching_or_recording():
    from django.http import Http404

    make_legal_request(targets=[("phone", PHONE)])
    officer = make_officer().user
    inactive = make_reviewer(is_active=False)
    mark = audit_mark()

    for user in (officer, inactive):
        with pytest.raises(Http404):
            request_queue(user=user, filters=QueueFilters(target=PHONE))

    assert AuditEvent.objects.filter(seq__gt=mark).count() == 0


def test_an_anonymous_search_is_sent_to_log_in_and_recorded_nowhere(client):
    mark = audit_mark()

    response = client.get(QUEUE, {"target": PHONE})

    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert audit_since(mark) == []


# --- Overdue on every open state -----------------------------------------------------------


def test_an_approved_preservation_past_its_expiry_or_due_date_is_flagged_overdue(
    reviewer_client, reviewer
):
    now = timezone.now()
    lapsed = make_legal_request(
        kind="preservation", status=S.APPROVED, due_at=now + timedelta(days=2), assignee=reviewer
    )
    ReviewState.objects.filter(request=lapsed).update(
        preservation_expires_at=now - timedelta(days=30)
    )
    past_due = make_legal_request(
        kind="preservation", status=S.APPROVED, due_at=now - timedelta(days=30), assignee=reviewer
    )
    ReviewState.objects.filter(request=past_due).update(
        preservation_expires_at=now + timedelta(days=30)
    )
    held = make_legal_request(
        kind="preservation", status=S.APPROVED, due_at=now + timedelta(days=2), assignee=reviewer
    )
    ReviewState.objects.filter(request=held).update(
        preservation_expires_at=now + timedelta(days=30)
    )

    response = reviewer_client.get(QUEUE)

    for late in (lapsed, past_due):
        assert "overdue-flag" in row_of(response, late.reference)
        assert "overdue by 30 days" in row_of(response, late.reference)
    assert "Overdue" not in row_of(response, held.reference)
    assert references(reviewer_client.get(QUEUE, {"due": "overdue"})) == {
        lapsed.reference,
        past_due.reference,
    }
    assert 'count-overdue">2<' in response.content.decode()


def test_a_request_paused_after_its_deadline_stays_overdue():
    now = timezone.now()
    late = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now - timedelta(hours=5),
        paused_since=now - timedelta(hours=1),
    )
    in_time = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now - timedelta(hours=1),
        paused_since=now - timedelta(hours=5),
    )

    assert set(LegalRequest.objects.filter(overdue_q(now))) == {late}
    assert is_overdue(late, late.review, now=now)
    assert not is_overdue(in_time, in_time.review, now=now)


def test_the_overdue_filter_and_the_row_flag_agree_on_every_state_and_kind():
    """``overdue_q`` (the counts, the filter, the home page) and ``overdue_since`` (the row)
    are one rule: checked over every state, both kinds, in time and late, EU and not."""
    now = timezone.now()
    us, eu = make_agency(country="US"), make_agency(country="FR")
    made = []
    for status in S.values:
        for kind in ("preservation", "subscriber_data"):
            for agency in (us, eu):
                for due in (timedelta(days=-1), timedelta(days=1)):
                    for received in (timedelta(days=-100), timedelta(days=-70), timedelta(days=-1)):
                        made.append(
                            make_legal_request(
                                status=status,
                                kind=kind,
                                agency=agency,
                                due_at=now + due,
                                received_at=now + received,
                                audited=False,
                            )
                        )
    by_filter = {r.pk for r in LegalRequest.objects.filter(overdue_q(now))}
    by_row = {
        r.pk
        for r in LegalRequest.objects.select_related("review").filter(pk__in=[m.pk for m in made])
        if is_overdue(r, getattr(r, "review", None), now=now)
    }

    assert by_filter == by_row
    assert overdue_count(now) == len(by_row)
    # Some of each: approved late by the deadline, and by a lapsed preservation alone.
    approved = {r.pk for r in made if r.status == S.APPROVED}
    assert by_row & approved
    assert any(
        r.kind == "preservation" and r.due_at > now and r.pk in by_row
        for r in made
        if r.status == S.APPROVED
    )


def test_the_request_page_of_an_approved_preservation_past_its_expiry_says_overdue(
    reviewer_client, reviewer
):
    now = timezone.now()
    lapsed = make_legal_request(
        kind="preservation", status=S.APPROVED, due_at=now + timedelta(days=2), assignee=reviewer
    )
    ReviewState.objects.filter(request=lapsed).update(
        preservation_expires_at=now - timedelta(days=3)
    )
    held = make_legal_request(
        kind="preservation", status=S.APPROVED, due_at=now + timedelta(days=2), assignee=reviewer
    )
    ReviewState.objects.filter(request=held).update(
        preservation_expires_at=now + timedelta(days=30)
    )

    late_page = reviewer_client.get(f"/review/{lapsed.reference}/").content.decode()
    held_page = reviewer_client.get(f"/review/{held.reference}/").content.decode()

    assert "overdue-flag" in late_page.split('class="lead"', 1)[1].split("</p>", 1)[0]
    assert "overdue-flag" not in held_page
