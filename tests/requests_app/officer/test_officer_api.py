"""The officer's API (PROTOCOL §4): the clarification thread and withdrawal.

Every refusal is a problem document with a stable code; a stranger (another agency, or a
colleague the request was not shared with) meets 404 and leaves nothing behind.
"""

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Officer
from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest, Message
from requests_app.officer.sharing import request_share
from requests_app.review.services import clarification_ask, request_claim
from tests.audit_marks import audit_mark
from tests.factories import make_agency, make_api_token, make_officer
from tests.problems import assert_problem
from tests.requests_app.officer_helpers import (
    request_actions_since,
    reviewer,
    snapshot,
)

pytestmark = [pytest.mark.django_db]


def bearer(officer: Officer) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {make_api_token(officer=officer)[1]}"}


def messages_url(reference: str) -> str:
    return f"/api/v1/submissions/{reference}/messages"


def withdraw_url(reference: str) -> str:
    return f"/api/v1/submissions/{reference}/withdraw"


@pytest.fixture
def api() -> Client:
    return Client()


def test_the_thread_is_read_with_the_platform_answering_as_a_team(api, officer, legal_request):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    clarification_ask(request=legal_request, reviewer=handler, body="Which period?")

    response = api.get(messages_url(legal_request.reference), **bearer(officer))

    assert response.status_code == 200
    [message] = response.json()
    assert message["side"] == "platform"
    assert message["author"] == "Platform legal team"
    assert message["body"] == "Which period?"
    assert handler.email not in response.content.decode()


def test_an_answer_to_a_question_restarts_the_clock_and_tells_the_reviewer(
    api, officer, legal_request, django_capture_on_commit_callbacks
):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    clarification_ask(request=legal_request, reviewer=handler, body="Which period?")
    mark = audit_mark()
    token = bearer(officer)  # made before: a new token is mailed to the officer

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            messages_url(legal_request.reference),
            {"body": "  January to March.  "},
            content_type="application/json",
            **token,
        )

    assert response.status_code == 201, response.content
    assert response.json()["body"] == "January to March."
    assert response.json()["author"] == officer.user.full_name
    legal_request.refresh_from_db()
    assert legal_request.status == LegalRequest.Status.IN_REVIEW
    assert request_actions_since(mark, legal_request) == ["legal_request.authority_replies"]
    assert [m.to for m in mail.outbox] == [[handler.email]]
    assert "January" not in mail.outbox[0].body


def test_an_officer_of_another_agency_meets_404_on_every_endpoint_and_nothing_changes(
    api, legal_request
):
    stranger = make_officer(agency=make_agency(country="FR"))
    headers = bearer(stranger)
    before = snapshot(legal_request)

    for response in (
        api.get(messages_url(legal_request.reference), **headers),
        api.post(
            messages_url(legal_request.reference),
            {"body": "Let me in"},
            content_type="application/json",
            **headers,
        ),
        api.post(withdraw_url(legal_request.reference), content_type="application/json", **headers),
    ):
        assert_problem(response, status=404, code="not_found")
    assert snapshot(legal_request) == before
    assert mail.outbox == []


def test_a_colleague_without_a_share_meets_404_and_nothing_changes(api, officer, legal_request):
    colleague = make_officer(agency=officer.agency)
    headers = bearer(colleague)
    before = snapshot(legal_request)

    assert_problem(
        api.get(f"/api/v1/submissions/{legal_request.reference}", **headers),
        status=404,
        code="not_found",
    )
    assert api.get("/api/v1/submissions", **headers).json() == []
    assert_problem(
        api.get(messages_url(legal_request.reference), **headers), status=404, code="not_found"
    )
    assert_problem(
        api.post(
            messages_url(legal_request.reference),
            {"body": "Hello"},
            content_type="application/json",
            **headers,
        ),
        status=404,
        code="not_found",
    )
    assert_problem(
        api.post(withdraw_url(legal_request.reference), content_type="application/json", **headers),
        status=404,
        code="not_found",
    )
    assert snapshot(legal_request) == before


def test_a_delegate_reads_and_replies_but_may_not_withdraw(api, officer, legal_request):
    colleague = make_officer(agency=officer.agency)
    request_share(request=legal_request, officer=officer, colleague=colleague)
    headers = bearer(colleague)

    assert api.get(f"/api/v1/submissions/{legal_request.reference}", **headers).status_code == 200
    assert [r["reference"] for r in api.get("/api/v1/submissions", **headers).json()] == [
        legal_request.reference
    ]
    reply = api.post(
        messages_url(legal_request.reference),
        {"body": "I handle this case now."},
        content_type="application/json",
        **headers,
    )
    assert reply.status_code == 201
    before = snapshot(legal_request)

    problem = assert_problem(
        api.post(withdraw_url(legal_request.reference), content_type="application/json", **headers),
        status=403,
        code="forbidden",
    )
    assert "submitted" in problem["detail"]
    assert snapshot(legal_request) == before


def test_withdrawing_twice_answers_409_the_second_time_and_changes_nothing(
    api, officer, legal_request
):
    headers = bearer(officer)
    mark = audit_mark()

    first = api.post(
        withdraw_url(legal_request.reference),
        {"reason": "Suspect arrested."},
        content_type="application/json",
        **headers,
    )
    assert first.status_code == 200, first.content
    assert first.json() == {"reference": legal_request.reference, "status": "withdrawn"}
    before = snapshot(legal_request)

    second = api.post(
        withdraw_url(legal_request.reference), content_type="application/json", **headers
    )

    problem = assert_problem(second, status=409, code="invalid_state")
    assert problem["request_status"] == "withdrawn"
    assert snapshot(legal_request) == before
    assert request_actions_since(mark, legal_request) == ["legal_request.withdraw"]
    assert AuditEvent.objects.get(action="legal_request.withdraw").data["reason"] == (
        "Suspect arrested."
    )


@pytest.mark.parametrize(
    ("body", "content_type", "code", "status"),
    [
        # A garbled or form body once read as an empty form: withdrawn, reason dropped.
        (
            b"--x\r\nnot a multipart body",
            "multipart/form-data; boundary=x",
            "unsupported_media_type",
            415,
        ),
        (
            b"reason=Suspect+arrested.",
            "application/x-www-form-urlencoded",
            "unsupported_media_type",
            415,
        ),
        (b'{"reason": 12}', "application/json", "malformed", 400),
        (b'{"reason": " ' + b"x" * 500 + b'"}', "application/json", "malformed", 400),
        # A field the endpoint does not know (a misspelt "reason") is an error, not ignored.
        (b'{"reasons": "Suspect arrested."}', "application/json", "malformed", 400),
    ],
)
def test_a_withdrawal_that_is_not_well_formed_json_is_refused_and_changes_nothing(
    api, officer, legal_request, body, content_type, code, status
):
    before = snapshot(legal_request)
    mark = audit_mark()

    response = api.post(
        withdraw_url(legal_request.reference), body, content_type=content_type, **bearer(officer)
    )

    assert_problem(response, status=status, code=code)
    assert snapshot(legal_request) == before
    assert request_actions_since(mark, legal_request) == []


def test_the_conflict_names_the_requests_state(api, officer, legal_request):
    LegalRequest.objects.filter(pk=legal_request.pk).update(status=LegalRequest.Status.REJECTED)
    response = api.post(
        withdraw_url(legal_request.reference), content_type="application/json", **bearer(officer)
    )
    problem = assert_problem(response, status=409, code="invalid_state")
    # RFC 9457's "status" stays the HTTP status; the request's state has its own member.
    assert problem["status"] == 409
    assert problem["request_status"] == "rejected"
    assert "rejected" in problem["detail"]


def test_replying_to_a_closed_request_answers_409_and_stores_nothing(api, officer, legal_request):
    LegalRequest.objects.filter(pk=legal_request.pk).update(status=LegalRequest.Status.CLOSED)
    before = snapshot(legal_request)

    response = api.post(
        messages_url(legal_request.reference),
        {"body": "One more thing"},
        content_type="application/json",
        **bearer(officer),
    )

    assert_problem(response, status=409, code="invalid_state")
    assert snapshot(legal_request) == before
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 10_001}, "body"),
        ({"body": "Hi", "urgent": True}, "urgent"),  # unknown fields are errors
    ],
)
def test_an_empty_oversized_or_unknown_message_is_malformed(
    api, officer, legal_request, body, field
):
    response = api.post(
        messages_url(legal_request.reference),
        body,
        content_type="application/json",
        **bearer(officer),
    )
    problem = assert_problem(response, status=400, code="malformed")
    assert problem["errors"][0]["field"] == field
    assert not Message.objects.exists()


def test_without_a_token_the_endpoints_answer_401(api, legal_request):
    assert_problem(
        api.get(messages_url(legal_request.reference)), status=401, code="unauthenticated"
    )
    assert_problem(
        api.post(withdraw_url(legal_request.reference), content_type="application/json"),
        status=401,
        code="unauthenticated",
    )


def test_a_suspended_officer_is_refused_with_their_standing(api, officer, legal_request):
    headers = bearer(officer)
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)
    response = api.get(messages_url(legal_request.reference), **headers)
    assert response.status_code in (401, 403)
    legal_request.refresh_from_db()
    assert legal_request.status == LegalRequest.Status.RECEIVED


def test_the_openapi_schema_describes_the_thread_and_withdrawal(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    messages = schema["paths"]["/api/v1/submissions/{reference}/messages"]
    assert set(messages) >= {"get", "post"}
    assert "post" in schema["paths"]["/api/v1/submissions/{reference}/withdraw"]
    assert "409" in messages["post"]["responses"]
