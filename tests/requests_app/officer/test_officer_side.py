"""The officer's pages: their requests, the thread, withdrawal, and sharing with colleagues.

Visibility: a request is private to the officer who submitted it and to the colleagues of
the same agency they share it with by name. Each attack checks the refusal and that
nothing changed (status, messages, shares, audit events, emails).

Requests are real: signed and submitted through the API
(``tests.requests_app.officer_helpers``).
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Officer
from portal.models import AuditEvent
from requests_app.lifecycle.access import request_get_for_officer, request_list_for_officer
from requests_app.lifecycle.models import LegalRequest, Message, RequestShare
from requests_app.officer.sharing import request_share
from requests_app.review.models import Decision
from requests_app.review.services import clarification_ask, decision_reject, request_claim
from tests.audit_marks import audit_mark
from tests.factories import log_in, make_agency, make_officer
from tests.requests_app.officer_helpers import (
    client_of,
    page,
    request_actions_since,
    reviewer,
    snapshot,
    submitted,
)

pytestmark = [pytest.mark.django_db]


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def colleague(officer: Officer) -> Officer:
    return make_officer(agency=officer.agency)


@pytest.fixture
def stranger() -> Officer:
    return make_officer(agency=make_agency(country="FR"))


# --- The list and the page ------------------------------------------------------------------


def test_an_officer_lists_their_requests_with_status_due_date_and_time_left(officer):
    mine = submitted(officer)
    emergency = submitted(
        officer,
        kind="emergency",
        emergency={"justification": "A credible threat to a child's life."},
        data_categories=["ip_addresses"],
    )
    client = client_of(officer)

    response = client.get(reverse("officer-requests"))

    assert response.status_code == 200
    body = response.content.decode()
    assert mine.reference in body
    assert emergency.reference in body
    assert "Received" in body
    # The emergency's eight hours end today, or tomorrow late in the (UTC) day.
    assert "Due today" in body or "Due within 48 hours" in body
    assert "(in 9 days 23 hr)" in body  # a production order's ten days, {% deadline %}
    assert "by you" in body


def test_the_list_takes_a_fixed_number_of_queries_however_many_requests(
    officer, django_assert_max_num_queries
):
    colleague = make_officer(agency=officer.agency)
    client = client_of(officer)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("officer-requests")).status_code == 200
        return len(captured)

    submitted(officer)
    few = queries_for_list()
    for _ in range(3):
        submitted(officer)
    request_share(request=submitted(colleague), officer=colleague, colleague=officer)
    with django_assert_max_num_queries(few):
        client.get(reverse("officer-requests"))


def test_the_request_page_shows_the_question_pauses_the_clock_and_a_reply_restarts_it(
    officer, legal_request, django_capture_on_commit_callbacks
):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    clarification_ask(request=legal_request, reviewer=handler, body="Which account, exactly?")
    client = client_of(officer)

    shown = client.get(page(legal_request.reference)).content.decode()
    assert "Which account, exactly?" in shown
    assert "Platform legal team" in shown
    assert handler.full_name not in shown  # reviewers answer as a team
    assert "Paused" in shown
    assert "waiting for your answer" in shown

    due_before = LegalRequest.objects.get(pk=legal_request.pk).due_at
    mark = audit_mark()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            page(legal_request.reference, "officer-request-reply"),
            {"body": "The account suspect_one, registered in March."},
        )

    assert response.status_code == 302
    legal_request.refresh_from_db()
    assert legal_request.status == LegalRequest.Status.IN_REVIEW
    assert legal_request.due_at >= due_before  # the pause was added to the deadline
    assert request_actions_since(mark, legal_request) == ["legal_request.authority_replies"]
    assert [m.to for m in mail.outbox] == [[handler.email]]
    assert "suspect_one" not in mail.outbox[0].body
    assert legal_request.reference not in mail.outbox[0].body + mail.outbox[0].subject


def test_the_decision_message_is_shown_once_decided_and_the_internal_note_never(
    officer, legal_request
):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    decision_reject(
        request=legal_request,
        reviewer=handler,
        reason_code="insufficient_information",
        message="Name the account by its user id.",
        note="Looks like a fishing expedition.",
    )
    shown = client_of(officer).get(page(legal_request.reference)).content.decode()

    assert "Rejected" in shown
    assert "Insufficient information" in shown
    assert "Name the account by its user id." in shown
    assert "fishing expedition" not in shown


def test_a_proposed_approval_is_not_shown_before_a_second_reviewer_confirms(officer, legal_request):
    Decision.objects.create(
        request=legal_request,
        outcome=Decision.Outcome.APPROVE_FULL,
        proposed_by=reviewer(),
        message_to_authority="Data follows.",
    )
    shown = client_of(officer).get(page(legal_request.reference)).content.decode()
    assert "Data follows." not in shown


def test_a_reviewer_cannot_open_the_officer_pages(legal_request):
    client = Client()
    log_in(client, reviewer())
    assert client.get(reverse("officer-requests")).status_code == 403
    assert client.get(page(legal_request.reference)).status_code == 403


# --- Visibility: private to the submitter unless shared -------------------------------------


def test_a_colleague_of_the_same_agency_does_not_see_an_unshared_request(legal_request, colleague):
    client = client_of(colleague)
    before = snapshot(legal_request)

    assert legal_request.reference not in client.get(reverse("officer-requests")).content.decode()
    assert client.get(page(legal_request.reference)).status_code == 404
    reply = client.post(page(legal_request.reference, "officer-request-reply"), {"body": "Hi"})
    assert reply.status_code == 404
    withdraw = client.post(
        page(legal_request.reference, "officer-request-withdraw"), {"confirm": "on"}
    )
    assert withdraw.status_code == 404
    assert snapshot(legal_request) == before


def test_an_officer_of_another_agency_reading_replying_or_withdrawing_meets_404(
    legal_request, stranger
):
    client = client_of(stranger)
    before = snapshot(legal_request)

    for response in (
        client.get(page(legal_request.reference)),
        client.post(page(legal_request.reference, "officer-request-reply"), {"body": "Hi"}),
        client.get(page(legal_request.reference, "officer-request-withdraw")),
        client.post(page(legal_request.reference, "officer-request-withdraw"), {"confirm": "on"}),
        client.post(page(legal_request.reference, "officer-request-share"), {"email": "x@y.z"}),
    ):
        assert response.status_code == 404
    assert snapshot(legal_request) == before
    assert mail.outbox == []


def test_an_unknown_reference_and_a_strangers_reference_answer_alike(legal_request, stranger):
    client = client_of(stranger)
    unknown = client.get(page("LR-DOES-NOT-EXIST"))
    known = client.get(page(legal_request.reference))
    assert unknown.status_code == known.status_code == 404


def test_the_selectors_let_the_submitter_and_live_delegates_in_and_nobody_else(
    officer, colleague, stranger, legal_request
):
    other_colleague = make_officer(agency=officer.agency)
    assert list(request_list_for_officer(officer=officer)) == [legal_request]
    assert list(request_list_for_officer(officer=colleague)) == []

    share = request_share(request=legal_request, officer=officer, colleague=colleague)
    assert list(request_list_for_officer(officer=colleague)) == [legal_request]
    assert list(request_list_for_officer(officer=other_colleague)) == []
    assert list(request_list_for_officer(officer=stranger)) == []

    share.revoked_at = share.granted_at + timedelta(seconds=1)
    share.save()
    assert list(request_list_for_officer(officer=colleague)) == []


def test_a_suspended_submitter_or_one_moved_to_another_agency_sees_nothing(officer, legal_request):
    officer.status = Officer.Status.SUSPENDED
    officer.save()
    assert list(request_list_for_officer(officer=officer)) == []

    officer.status = Officer.Status.ACTIVE
    officer.agency = make_agency(country="NL")
    officer.save()
    officer = Officer.objects.select_related("agency", "user").get(pk=officer.pk)
    with pytest.raises(Http404):
        request_get_for_officer(officer=officer, reference=legal_request.reference)


# --- Sharing --------------------------------------------------------------------------------


def test_sharing_lets_a_named_colleague_read_and_reply_and_taking_it_back_ends_it(
    officer, colleague, legal_request, django_capture_on_commit_callbacks
):
    owner = client_of(officer)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            page(legal_request.reference, "officer-request-share"),
            {"email": colleague.user.email.upper()},
        )
    assert response.status_code == 302
    share = RequestShare.objects.get(request=legal_request, revoked_at__isnull=True)
    assert share.officer == colleague
    assert share.granted_by == officer
    assert [m.to for m in mail.outbox] == [[colleague.user.email]]
    email = mail.outbox[0]
    assert legal_request.reference not in email.subject + email.body
    assert legal_request.case_reference not in email.body

    delegate = client_of(colleague)
    assert legal_request.reference in delegate.get(reverse("officer-requests")).content.decode()
    shown = delegate.get(page(legal_request.reference)).content.decode()
    assert "Shared with you by" in shown
    assert "Withdraw this request" not in shown  # the submitter's act alone
    assert (
        delegate.post(
            page(legal_request.reference, "officer-request-reply"),
            {"body": "I took over the case."},
        ).status_code
        == 302
    )
    assert Message.objects.get(request=legal_request).author == colleague.user

    response = owner.post(page(legal_request.reference, "officer-request-unshare", share.pk))
    assert response.status_code == 302
    assert delegate.get(page(legal_request.reference)).status_code == 404
    assert request_actions_since(mark, legal_request) == [
        "request.shared",
        "message.received",
        "request.unshared",
    ]
    shared = AuditEvent.objects.get(action="request.shared")
    assert shared.actor_id == officer.user_id
    assert shared.data["after"] == {"officer_id": colleague.pk, "email": colleague.user.email}


def test_an_officer_of_another_agency_cannot_be_named_for_a_share(officer, stranger, legal_request):
    owner = client_of(officer)
    before = snapshot(legal_request)

    response = owner.post(
        page(legal_request.reference, "officer-request-share"), {"email": stranger.user.email}
    )

    assert response.status_code == 400
    assert "No active officer of your agency has this address." in response.content.decode()
    assert snapshot(legal_request) == before
    assert mail.outbox == []


def test_a_suspended_colleague_cannot_be_named_and_sharing_twice_is_refused(
    officer, colleague, legal_request
):
    suspended = make_officer(agency=officer.agency, status=Officer.Status.SUSPENDED)
    owner = client_of(officer)
    url = page(legal_request.reference, "officer-request-share")

    assert owner.post(url, {"email": suspended.user.email}).status_code == 400
    assert owner.post(url, {"email": colleague.user.email}).status_code == 302
    again = owner.post(url, {"email": colleague.user.email})
    assert again.status_code == 400
    assert "already has the request" in again.content.decode()
    assert RequestShare.objects.filter(request=legal_request).count() == 1


def test_a_delegate_can_neither_withdraw_nor_reshare_nor_take_shares_back(
    officer, colleague, legal_request
):
    share = request_share(request=legal_request, officer=officer, colleague=colleague)
    third = make_officer(agency=officer.agency)
    delegate = client_of(colleague)
    before = snapshot(legal_request)

    assert (
        delegate.get(page(legal_request.reference, "officer-request-withdraw")).status_code == 403
    )
    assert (
        delegate.post(
            page(legal_request.reference, "officer-request-withdraw"), {"confirm": "on"}
        ).status_code
        == 403
    )
    assert (
        delegate.post(
            page(legal_request.reference, "officer-request-share"), {"email": third.user.email}
        ).status_code
        == 403
    )
    assert (
        delegate.post(
            page(legal_request.reference, "officer-request-unshare", share.pk)
        ).status_code
        == 404
    )
    assert snapshot(legal_request) == before
    share.refresh_from_db()
    assert share.revoked_at is None


# --- Withdrawal and closed threads ----------------------------------------------------------


def test_withdrawal_needs_confirmation_and_a_second_withdrawal_changes_nothing(
    officer, legal_request, django_capture_on_commit_callbacks
):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    client = client_of(officer)
    url = page(legal_request.reference, "officer-request-withdraw")

    confirm_page = client.get(url)
    assert confirm_page.status_code == 200
    assert "cannot be undone" in confirm_page.content.decode()

    unconfirmed = client.post(url, {"reason": "Case closed."})
    assert unconfirmed.status_code == 400
    legal_request.refresh_from_db()
    assert legal_request.status == LegalRequest.Status.IN_REVIEW

    mark = audit_mark()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"reason": "Case closed.", "confirm": "on"})
    assert done.status_code == 302
    legal_request.refresh_from_db()
    assert legal_request.status == LegalRequest.Status.WITHDRAWN
    assert [m.to for m in mail.outbox] == [[handler.email]]

    again = client.post(url, {"reason": "Again", "confirm": "on"}, follow=True)
    assert "can no longer be withdrawn" in client.get(url).content.decode()
    assert "cannot be changed" in again.content.decode()
    assert request_actions_since(mark, legal_request) == ["legal_request.withdraw"]
    event = AuditEvent.objects.get(action="legal_request.withdraw")
    assert event.data["reason"] == "Case closed."
    assert len(mail.outbox) == 1


def test_replying_to_a_closed_or_withdrawn_request_is_refused_and_nothing_stored(
    officer, legal_request
):
    client = client_of(officer)
    for status in (LegalRequest.Status.CLOSED, LegalRequest.Status.WITHDRAWN):
        LegalRequest.objects.filter(pk=legal_request.pk).update(status=status)
        shown = client.get(page(legal_request.reference)).content.decode()
        assert "the thread is closed" in shown
        before = snapshot(legal_request)

        response = client.post(
            page(legal_request.reference, "officer-request-reply"), {"body": "One more thing"}
        )

        assert response.status_code == 400
        assert "This request is closed." in response.content.decode()
        assert snapshot(legal_request) == before


def test_an_empty_reply_is_refused_on_the_page(officer, legal_request):
    response = client_of(officer).post(
        page(legal_request.reference, "officer-request-reply"), {"body": "   "}
    )
    assert response.status_code == 400
    assert not Message.objects.exists()
