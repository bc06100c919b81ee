"""The checklist and the proposal in one form, one click (review-decide): the path, and each
refusal changing nothing (no assessment, no decision, no audit event)."""

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.review import services
from requests_app.review.models import Assessment, AssessmentItem, Decision
from tests.audit_marks import actions_since, audit_mark
from tests.factories import log_in
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

CHECKLIST_ALL_YES = {item.value: "yes" for item in AssessmentItem}
ALL_OK = {item.value: {"ok": True, "note": ""} for item in AssessmentItem}


@pytest.fixture
def reviewer():
    return make_reviewer(full_name="Ada First")


@pytest.fixture
def reviewer_client(client, reviewer):
    log_in(client, reviewer)
    return client


@pytest.fixture
def request_in_review(reviewer) -> LegalRequest:
    request = make_legal_request(
        targets=[("username", "suspect_one"), ("username", "suspect_two")],
        data_categories=["ip_addresses", "phone_number"],
    )
    services.request_claim(request=request, reviewer=reviewer)
    return LegalRequest.objects.get(pk=request.pk)


def decide_url(request: LegalRequest) -> str:
    return reverse("review-decide", args=[request.reference])


def scope(request: LegalRequest, **changes) -> dict:
    return {
        "targets": list(request.targets.values_list("pk", flat=True)),
        "categories": ["ip_addresses"],
        "period_from": "2026-01-01",
        "period_to": "2026-03-31",
        "message": "",
        "note": "Partial: no phone numbers.",
        **changes,
    }


def nothing_saved(request: LegalRequest, mark: int) -> None:
    assert not Assessment.objects.filter(request=request).exists()
    assert not Decision.objects.filter(request=request).exists()
    assert AuditEvent.objects.filter(seq__gt=mark).count() == 0
    assert LegalRequest.objects.get(pk=request.pk).status == LegalRequest.Status.IN_REVIEW


def test_the_request_page_offers_the_checklist_and_the_proposal_as_one_form(
    reviewer_client, request_in_review
):
    page = reviewer_client.get(f"/review/{request_in_review.reference}/").content.decode()

    forms = page.split("<form")
    decide = [f for f in forms if f'action="{decide_url(request_in_review)}"' in f]
    assert len(decide) == 1
    assert 'name="legal_basis"' in decide[0]
    assert 'name="targets"' in decide[0]
    assert 'name="then" value="propose"' in decide[0]
    # Not two forms any more.
    assert f'action="/review/{request_in_review.reference}/assessment/"' not in page
    assert f'action="/review/{request_in_review.reference}/propose/"' not in page


def test_one_click_saves_the_checklist_and_proposes_the_approval(
    reviewer_client, reviewer, request_in_review
):
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {**CHECKLIST_ALL_YES, "then": "propose", **scope(request_in_review)},
    )

    decision = Decision.objects.get(request=request_in_review)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "review-preview", args=[request_in_review.reference, decision.pk]
    )
    assert Assessment.objects.get(request=request_in_review).all_ok
    assert decision.state == Decision.State.PROPOSED
    assert decision.outcome == Decision.Outcome.APPROVE_PARTIAL
    assert decision.approved_categories == ["ip_addresses"]
    assert decision.proposed_by == reviewer
    assert actions_since(mark) == ["assessment.saved", "decision.proposed"]


def test_save_only_keeps_the_checklist_and_proposes_nothing(reviewer_client, request_in_review):
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {
            **CHECKLIST_ALL_YES,
            "no_abuse": "no",
            "no_abuse_note": "Looks like a journalist.",
            "then": "save",
            **scope(request_in_review),
        },
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#assessment")
    assessment = Assessment.objects.get(request=request_in_review)
    assert assessment.items["no_abuse"] == {"ok": False, "note": "Looks like a journalist."}
    assert not Decision.objects.filter(request=request_in_review).exists()
    assert actions_since(mark) == ["assessment.saved"]


def test_proposing_with_an_item_not_satisfied_is_refused_and_saves_no_checklist(
    reviewer_client, request_in_review
):
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {
            **CHECKLIST_ALL_YES,
            "no_abuse": "no",
            "no_abuse_note": "Looks like a journalist.",
            "then": "propose",
            **scope(request_in_review),
        },
    )

    assert response.status_code == 409
    assert "every item satisfied" in response.content.decode()
    # What was typed comes back.
    assert "Looks like a journalist." in response.content.decode()
    nothing_saved(request_in_review, mark)


def test_proposing_a_target_of_another_request_is_refused_and_saves_nothing(
    reviewer_client, request_in_review
):
    other = make_legal_request(targets=[("username", "someone_else")])
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {
            **CHECKLIST_ALL_YES,
            "then": "propose",
            **scope(request_in_review, targets=[other.targets.get().pk]),
        },
    )

    assert response.status_code == 400
    nothing_saved(request_in_review, mark)


def test_a_period_beyond_the_asked_one_is_refused_and_saves_nothing(
    reviewer_client, request_in_review
):
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {
            **CHECKLIST_ALL_YES,
            "then": "propose",
            **scope(request_in_review, period_to="2026-12-31"),
        },
    )

    assert response.status_code == 400
    nothing_saved(request_in_review, mark)


@pytest.mark.parametrize("smuggled", [{"state": "confirmed"}, {"then": "confirm"}])
def test_a_field_the_form_does_not_define_refuses_the_whole(
    reviewer_client, request_in_review, smuggled
):
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {**CHECKLIST_ALL_YES, "then": "propose", **scope(request_in_review), **smuggled},
    )

    assert response.status_code == 400
    assert "does not take" in response.content.decode()
    nothing_saved(request_in_review, mark)


def test_a_second_proposal_while_one_waits_is_refused_and_the_checklist_stays_as_it_was(
    reviewer_client, reviewer, request_in_review
):
    services.assessment_save(request=request_in_review, reviewer=reviewer, items=ALL_OK)
    services.decision_propose_approval(
        request=request_in_review,
        reviewer=reviewer,
        target_ids=list(request_in_review.targets.values_list("pk", flat=True)),
        categories=["ip_addresses"],
        period_from=request_in_review.period_from,
        period_to=request_in_review.period_to,
    )
    before = Assessment.objects.get(request=request_in_review).items
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(request_in_review),
        {
            **CHECKLIST_ALL_YES,
            "legal_basis_note": "changed",
            "then": "propose",
            **scope(request_in_review),
        },
    )

    assert response.status_code == 409
    assert Assessment.objects.get(request=request_in_review).items == before
    assert Decision.objects.filter(request=request_in_review).count() == 1
    assert AuditEvent.objects.filter(seq__gt=mark).count() == 0


def test_a_request_not_in_review_is_refused(reviewer_client):
    received = make_legal_request()
    mark = audit_mark()

    response = reviewer_client.post(
        decide_url(received), {**CHECKLIST_ALL_YES, "then": "propose", **scope(received)}
    )

    assert response.status_code == 409
    assert not Assessment.objects.filter(request=received).exists()
    assert AuditEvent.objects.filter(seq__gt=mark).count() == 0
