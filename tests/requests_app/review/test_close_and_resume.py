"""Closing a request and resuming a paused clock, from the reviewer's request page.

Both need a reason, kept in the audit event of the transition; the state table decides
when each is offered. Every refusal changes nothing: no state, no clock, no event.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.review import services
from tests.audit_marks import audit_mark, audit_since
from tests.factories import log_in, make_officer
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

S = LegalRequest.Status


@pytest.fixture
def reviewer():
    return make_reviewer(full_name="Ada First")


@pytest.fixture
def reviewer_client(reviewer) -> Client:
    client = Client()
    log_in(client, reviewer)
    return client


def fresh(request: LegalRequest) -> LegalRequest:
    return LegalRequest.objects.get(pk=request.pk)


def awaiting_clarification(reviewer) -> LegalRequest:
    request = make_legal_request()
    services.request_claim(request=request, reviewer=reviewer)
    services.clarification_ask(request=request, reviewer=reviewer, body="Which account?")
    return fresh(request)


def rejected(reviewer) -> LegalRequest:
    request = make_legal_request()
    services.request_claim(request=request, reviewer=reviewer)
    services.decision_reject(
        request=request,
        reviewer=reviewer,
        reason_code="authority_not_competent",
        message="A court must validate this.",
        note="",
    )
    return fresh(request)


def state_of(request: LegalRequest) -> tuple:
    review = ReviewState.objects.get(request=request)
    row = fresh(request)
    return row.status, row.due_at, review.paused_since, review.closed_at


def page(client: Client, request: LegalRequest) -> str:
    response = client.get(reverse("review-request", args=[request.reference]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_offers_resume_only_while_the_clock_is_paused(reviewer, reviewer_client):
    paused = awaiting_clarification(reviewer)
    in_review = make_legal_request()
    services.request_claim(request=in_review, reviewer=reviewer)

    assert reverse("review-resume", args=[paused.reference]) in page(reviewer_client, paused)
    assert "review-resume" not in page(reviewer_client, in_review)
    assert reverse("review-resume", args=[in_review.reference]) not in page(
        reviewer_client, in_review
    )


def test_a_reviewer_resumes_a_paused_clock_with_a_reason_from_the_page(reviewer, reviewer_client):
    request = awaiting_clarification(reviewer)
    ReviewState.objects.filter(request=request).update(
        paused_since=ReviewState.objects.get(request=request).paused_since - timedelta(hours=6)
    )
    due_before = request.due_at
    mark = audit_mark()

    response = reviewer_client.post(
        reverse("review-resume", args=[request.reference]),
        {"note": "The officer answered by phone."},
    )

    assert response.status_code == 302
    after = fresh(request)
    assert after.status == S.IN_REVIEW
    assert after.due_at >= due_before + timedelta(hours=6)
    assert ReviewState.objects.get(request=request).paused_since is None
    [event] = audit_since(mark)
    assert event.action == "legal_request.resume"
    assert event.data["note"] == "The officer answered by phone."
    assert (event.data["before"], event.data["after"]) == (S.AWAITING_CLARIFICATION, S.IN_REVIEW)


def test_resuming_without_a_reason_is_refused_and_changes_nothing(reviewer, reviewer_client):
    request = awaiting_clarification(reviewer)
    before, mark = state_of(request), audit_mark()

    response = reviewer_client.post(
        reverse("review-resume", args=[request.reference]), {"note": "   "}
    )

    assert response.status_code == 400
    assert "Why review resumes" in response.content.decode()
    assert state_of(request) == before
    assert audit_since(mark) == []


def test_a_reviewer_closes_a_rejected_request_with_a_reason_from_the_page(
    reviewer, reviewer_client
):
    request = rejected(reviewer)
    assert reverse("review-close", args=[request.reference]) in page(reviewer_client, request)
    mark = audit_mark()

    response = reviewer_client.post(
        reverse("review-close", args=[request.reference]),
        {"note": "The authority confirmed it will not resubmit."},
    )

    assert response.status_code == 302
    assert fresh(request).status == S.CLOSED
    assert ReviewState.objects.get(request=request).closed_at is not None
    [event] = audit_since(mark)
    assert event.action == "legal_request.close"
    assert event.data["note"] == "The authority confirmed it will not resubmit."


def test_closing_without_a_reason_is_refused_and_changes_nothing(reviewer, reviewer_client):
    request = rejected(reviewer)
    before, mark = state_of(request), audit_mark()

    response = reviewer_client.post(reverse("review-close", args=[request.reference]), {})

    assert response.status_code == 400
    assert state_of(request) == before
    assert audit_since(mark) == []


def test_a_request_still_in_review_cannot_be_closed(reviewer, reviewer_client):
    request = make_legal_request()
    services.request_claim(request=request, reviewer=reviewer)
    assert reverse("review-close", args=[request.reference]) not in page(reviewer_client, request)
    before, mark = state_of(request), audit_mark()

    response = reviewer_client.post(
        reverse("review-close", args=[request.reference]), {"note": "Trying anyway."}
    )

    assert response.status_code == 409
    assert state_of(request) == before
    assert audit_since(mark) == []


@pytest.mark.parametrize("action", ["review-resume", "review-close"])
def test_an_officer_reaches_neither_tool(action, reviewer, client):
    request = awaiting_clarification(reviewer) if action == "review-resume" else rejected(reviewer)
    log_in(client, make_officer(agency=request.agency).user)
    before, events = state_of(request), AuditEvent.objects.count()

    response = client.post(reverse(action, args=[request.reference]), {"note": "Let me in."})

    assert response.status_code in (403, 404)
    assert state_of(request) == before
    assert AuditEvent.objects.count() == events
