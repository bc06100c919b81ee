"""The target types of PROTOCOL 1.2 through the API: email, ip_address (with its window), url.

Each malformed value is tried as a case system might send it, and must be refused as
``400 malformed`` naming the field, logged as a rejection, with nothing else stored (no
request, no target, no attachment, no audit event). The refusals use the same sentence as
the web page's check step (``test_check_step.py``).
"""

import pytest
from django.test import override_settings

from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest, RequestTarget
from tests.factories import make_api_token, make_officer
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = pytest.mark.django_db

WINDOW = {"from": "2026-02-01T08:00:00Z", "to": "2026-02-01T09:30:00Z"}


@pytest.fixture
def officer():
    return make_officer()


@pytest.fixture
def signer(officer):
    return enrol_signing_key(officer)


@pytest.fixture
def token(officer):
    return make_api_token(officer=officer)[1]


def send(client, signer, token, *targets: dict):
    sub = submission(targets=list(targets))
    return post_envelope(client, sub.sign(signer), sub.files, token)


def assert_malformed(response, field: str) -> str:
    """The refusal names ``field``; the rejection is logged; nothing else was stored."""
    assert response.status_code == 400, response.content
    problem = response.json()
    assert problem["code"] == "malformed"
    fields = {error["field"]: error["message"] for error in problem["errors"]}
    assert field in fields, problem
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.channel) == ("malformed", "api")
    assert LegalRequest.objects.count() == 0
    assert RequestTarget.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()
    return fields[field]


def test_an_email_an_ip_address_with_its_window_and_a_platform_url_are_accepted(
    client, signer, token
):
    targets = [
        {"type": "email", "value": "suspect@mail.example"},
        {"type": "ip_address", "value": "2001:db8::7", "window": WINDOW},
        {"type": "ip_address", "value": "203.0.113.7", "window": WINDOW},
        {"type": "url", "value": "https://platform.example/u/nightowl"},
        {"type": "phone", "value": "+4915112345678"},
    ]
    response = send(client, signer, token, *targets)
    assert response.status_code == 201, response.content

    request = LegalRequest.objects.get()
    stored = [(t.type, t.value, t.window_from, t.window_to) for t in request.targets.all()]
    assert [row[:2] for row in stored] == [(t["type"], t["value"]) for t in targets]
    ip = request.targets.get(value="203.0.113.7")
    assert ip.window_from.isoformat() == "2026-02-01T08:00:00+00:00"
    assert ip.window_to.isoformat() == "2026-02-01T09:30:00+00:00"
    assert request.targets.get(type="email").window_from is None

    # Read back as sent: the window only on an IP address.
    read = client.get(
        f"/api/v1/submissions/{request.reference}", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()
    assert read["targets"][0] == {"type": "email", "value": "suspect@mail.example"}
    assert read["targets"][1] == {
        "type": "ip_address",
        "value": "2001:db8::7",
        "window": {"from": "2026-02-01T08:00:00Z", "to": "2026-02-01T09:30:00Z"},
    }


@pytest.mark.parametrize(
    ("target", "field", "words"),
    [
        (
            {"type": "phone", "value": "call me maybe"},
            "payload.request.targets.0.value",
            "Not a valid phone number",
        ),
        # A real number, but not as E.164 writes it: the signed text is what is stored.
        (
            {"type": "phone", "value": "+49 30 1234567"},
            "payload.request.targets.0.value",
            "E.164 form: +49301234567",
        ),
        (
            {"type": "phone", "value": "+4915112345"},  # too short for a German mobile
            "payload.request.targets.0.value",
            "Not a valid phone number",
        ),
        (
            {"type": "email", "value": "not-an-address"},
            "payload.request.targets.0.value",
            "Not a valid email address",
        ),
        (
            {"type": "email", "value": "someone@localhost"},
            "payload.request.targets.0.value",
            "Not a valid email address",
        ),
        (
            {"type": "ip_address", "value": "999.1.1.1", "window": WINDOW},
            "payload.request.targets.0.value",
            "Not an IPv4 or IPv6 address",
        ),
        (
            {"type": "ip_address", "value": "fe80::1%eth0", "window": WINDOW},
            "payload.request.targets.0.value",
            "Not an IPv4 or IPv6 address",
        ),
        (
            {"type": "ip_address", "value": "2001:DB8:0::7", "window": WINDOW},
            "payload.request.targets.0.value",
            "Write the IP address as 2001:db8::7",
        ),
        (
            {"type": "ip_address", "value": "203.0.113.7"},
            "payload.request.targets.0.window",
            "needs the time window",
        ),
        (
            {"type": "username", "value": "suspect_one", "window": WINDOW},
            "payload.request.targets.0.window",
            "Only an IP address target has a time window",
        ),
        (
            {
                "type": "ip_address",
                "value": "203.0.113.7",
                "window": {"from": "2026-02-01T09:00:00Z", "to": "2026-02-01T08:00:00Z"},
            },
            "payload.request.targets.0.window.to",
            "ends before it starts",
        ),
        (
            {
                "type": "ip_address",
                "value": "203.0.113.7",
                "window": {"from": "2026-02-01 08:00", "to": "2026-02-01T09:00:00Z"},
            },
            "payload.request.targets.0.window.from",
            "YYYY-MM-DDTHH:MM:SSZ",
        ),
        (
            {
                "type": "ip_address",
                "value": "203.0.113.7",
                "window": {"from": "2025-12-31T23:00:00Z", "to": "2026-01-01T01:00:00Z"},
            },
            "payload.request.targets.0.window",
            "outside the period",
        ),
        (
            {"type": "url", "value": "http://platform.example/u/nightowl"},
            "payload.request.targets.0.value",
            "Not an address on the platform",
        ),
        (
            {"type": "url", "value": "https://platform.example.evil.example/u/nightowl"},
            "payload.request.targets.0.value",
            "Not an address on the platform",
        ),
        (
            # The host of this URL is evil.example; platform.example is its user name.
            {"type": "url", "value": "https://platform.example@evil.example/u/nightowl"},
            "payload.request.targets.0.value",
            "Not an address on the platform",
        ),
        (
            {"type": "url", "value": "https://platform.example/"},
            "payload.request.targets.0.value",
            "Not an address on the platform",
        ),
        (
            {"type": "url", "value": "https://platform.example:8443/u/nightowl"},
            "payload.request.targets.0.value",
            "Not an address on the platform",
        ),
    ],
)
def test_a_malformed_target_is_refused_naming_its_field_and_nothing_is_stored(
    client, signer, token, target, field, words
):
    message = assert_malformed(send(client, signer, token, target), field)
    assert words in message


def test_the_refusal_names_the_target_at_fault_among_several(client, signer, token):
    response = send(
        client,
        signer,
        token,
        {"type": "username", "value": "suspect_one"},
        {"type": "email", "value": "suspect@mail.example"},
        {"type": "phone", "value": "call me maybe"},
    )
    assert assert_malformed(response, "payload.request.targets.2.value")
    assert [e["field"] for e in response.json()["errors"]] == ["payload.request.targets.2.value"]


def test_an_unknown_target_type_is_still_malformed(client, signer, token):
    response = send(client, signer, token, {"type": "fingerprint", "value": "x"})
    assert_malformed(response, "payload.request.targets.0.type")


@override_settings(PLATFORM_URL_HOSTS=["social.example"])
def test_the_platform_hosts_are_a_setting(client, signer, token):
    response = send(client, signer, token, {"type": "url", "value": "https://platform.example/u/a"})
    assert "social.example" in assert_malformed(response, "payload.request.targets.0.value")
    IntakeRejection.objects.all().delete()
    response = send(client, signer, token, {"type": "url", "value": "https://social.example/u/a"})
    assert response.status_code == 201, response.content


def test_a_document_that_is_not_a_pdf_is_named_by_its_file_name(client, signer, token):
    """Refused at step 5 with the file's name and what to do, not its position."""
    broken = b"%PDF-1.7 this is no PDF at all"
    sub = submission(files=[("warrant 12.pdf", broken, "application/pdf")])
    response = post_envelope(client, sub.sign(signer), sub.files, token)
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == "attachment_mismatch"
    assert problem["index"] == 0
    assert problem["detail"].startswith("warrant 12.pdf is not a valid PDF")
    assert "Attachment 0" not in problem["detail"]
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
