"""JSON nested deeper than JSON_MAX_DEPTH is 400 malformed at every entry point, never a 500.

Python's json module recurses once per bracket: ten thousand ``[`` used to end in a
RecursionError and a server error. Each entry point is tried with such a body; the answer
is a refusal, the refusal is logged, and nothing is stored.
"""

import json
import logging

import pytest
from django.core.cache import cache

from portal.jsondepth import JSONTooDeep, json_depth_check
from portal.models import AuditEvent
from requests_app.models import Attachment, IntakeRejection, LegalRequest, Message
from tests.factories import (
    PASSWORD,
    SoftPasskey,
    log_in,
    make_api_token,
    make_officer,
    make_signing_passkey,
    make_user,
)
from tests.requests_app.officer_helpers import snapshot, submitted
from tests.requests_app.signing import enrol_signing_key, post_envelope

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000
DEEP_IN_OBJECT = '{"body": ' + "[" * 10_000 + "]" * 10_000 + "}"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def assert_malformed(response) -> dict:
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    problem = json.loads(response.content)
    assert problem["code"] == "malformed"
    return problem


def assert_nothing_stored() -> None:
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()


# --- The measure itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [b"{}", b"[[[]]]", "[" * 32 + "]" * 32, b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'],
)
def test_documents_within_the_limit_pass(document, settings) -> None:
    settings.JSON_MAX_DEPTH = 32
    json_depth_check(document)


@pytest.mark.parametrize(
    "document",
    [DEEP, "[" * 33 + "]" * 33, b"[{" * 17 + b"}]" * 17, b'["\\"' + b"[" * 40],
)
def test_documents_deeper_than_the_limit_are_refused(document, settings) -> None:
    settings.JSON_MAX_DEPTH = 32
    with pytest.raises(JSONTooDeep):
        json_depth_check(document)


# --- Intake: the API and the web channel --------------------------------------------------


def test_a_deep_envelope_over_the_api_is_malformed_logged_and_stores_nothing(client) -> None:
    officer = make_officer()
    enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]

    response = post_envelope(client, DEEP.encode(), token=token)

    problem = assert_malformed(response)
    assert problem["errors"][0]["message"] == "The JSON body nests deeper than 32 levels."
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.channel, rejection.officer) == ("malformed", "api", officer)
    assert_nothing_stored()


def test_a_deep_envelope_is_refused_in_the_requests_language(client) -> None:
    officer = make_officer()
    enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"

    problem = assert_malformed(post_envelope(client, DEEP.encode(), token=token))

    assert problem["errors"][0]["message"] == (
        "Der JSON-Text ist tiefer als 32 Ebenen verschachtelt."
    )
    assert_nothing_stored()


def test_a_deep_envelope_over_the_web_channel_is_malformed_logged_and_stores_nothing(
    client,
) -> None:
    from tests.requests_app.intake.test_web_channel import post_web

    officer = make_officer()
    make_signing_passkey(officer=officer, passkey=SoftPasskey())
    log_in(client, officer.user)

    response = post_web(client, DEEP_IN_OBJECT.encode())

    assert_malformed(response)
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.channel, rejection.officer) == ("malformed", "web", officer)
    assert_nothing_stored()


def test_deep_attachment_declarations_on_the_web_form_are_a_form_error(client) -> None:
    from tests.requests_app.intake.test_web_channel import form_data

    officer = make_officer()
    log_in(client, officer.user)

    response = client.post("/requests/new/subscriber_data/check/", form_data(attachments=DEEP))

    assert response.status_code == 400, response.content[:300]
    assert_nothing_stored()


# --- The officer's message and withdrawal endpoints ------------------------------------------


@pytest.mark.parametrize("endpoint", ["messages", "withdraw"])
def test_a_deep_body_to_the_officer_endpoints_is_malformed_and_changes_nothing(
    client, endpoint, caplog
) -> None:
    officer = make_officer()
    legal_request = submitted(officer)
    before = snapshot(legal_request)
    token = make_api_token(officer=officer)[1]

    with caplog.at_level(logging.WARNING, logger="portal.parsers"):
        response = client.post(
            f"/api/v1/submissions/{legal_request.reference}/{endpoint}",
            DEEP_IN_OBJECT,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert_malformed(response)
    assert snapshot(legal_request) == before
    assert Message.objects.filter(request=legal_request).count() == before[2]
    assert "JSON body rejected" in caplog.text


# --- Any other JSON view of the API, and the passkey endpoints ------------------------------


def test_drfs_json_parser_refuses_a_deep_body() -> None:
    from tests.portal.problem_views import Submit, serve

    response = serve(
        Submit.as_view(), "post", "/api/test/submit", DEEP, content_type="application/json"
    )

    assert_malformed(response)


def test_a_deep_body_to_the_passkey_endpoint_is_refused_and_grants_nothing(client) -> None:
    user = make_user()
    SoftPasskey().store_for(user)
    assert client.post("/login/", {"username": user.email, "password": PASSWORD}).status_code == 302
    client.post("/webauthn/authentication/begin/")

    response = client.post(
        "/webauthn/authentication/complete/", DEEP, content_type="application/json"
    )

    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "malformed_request"
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()
    assert json.loads(response.content)  # a JSON refusal, not a server error page
