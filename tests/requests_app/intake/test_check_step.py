"""The web page's check step: every check that needs no signature, before the passkey.

``POST /requests/new/<kind>/check/`` takes the form and its files as the page posts them,
and answers the payload to sign with its summary, or the fields to correct. It stores
nothing: no request, no rejection (nothing was submitted), no file. A request it lets
through is refused later only for its signature.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import Client

from requests_app.intake.models import DraftDocument, IntakeRejection, SubmissionDraft
from requests_app.lifecycle.models import Attachment, LegalRequest
from tests.factories import SoftPasskey, log_in, make_officer, make_signing_passkey, make_user
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    return tmp_storage(settings, tmp_path / "storage")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def officer():
    return make_officer()  # an agency in Germany


@pytest.fixture
def session(client, officer) -> Client:
    make_signing_passkey(officer=officer, passkey=SoftPasskey())
    log_in(client, officer.user)
    return client


def pdf() -> bytes:
    from tests.requests_app.signing import pdf_bytes

    return pdf_bytes("Production order")


def declared(name: str, data: bytes, media_type: str = "application/pdf") -> dict[str, Any]:
    return {
        "filename": name,
        "media_type": media_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def form(*targets: tuple[str, str], files: list[tuple[str, bytes]] = (), **fields: Any):
    """The page's fields: one target row per pair, then window fields by keyword."""
    today = datetime.now(UTC).date()
    data: dict[str, Any] = {
        "case_reference": "PF-2026-0412",
        "offence": "fraud",
        "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
        "authority_name": "Judge A. Example",
        "authority_role": "judge",
        "authority_contact": "+4930123",
        "targets-TOTAL_FORMS": str(len(targets)),
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "1",
        "targets-MAX_NUM_FORMS": "50",
        "data_categories": ["ip_addresses", "phone_number"],
        "period_from": (today - timedelta(days=60)).isoformat(),
        "period_to": today.isoformat(),
        "attachments": json.dumps([declared(name, data) for name, data in files]),
    }
    for index, (kind, value) in enumerate(targets):
        data[f"targets-{index}-type"] = kind
        data[f"targets-{index}-value"] = value
    data.update(fields)
    data["attachment"] = [SimpleUploadedFile(name, body, "application/pdf") for name, body in files]
    return data


def check(session: Client, data: dict[str, Any], kind: str = "subscriber_data"):
    return session.post(f"/requests/new/{kind}/check/", data)


def errors_of(response) -> dict[str, str]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed"
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def assert_nothing_stored(storage) -> None:
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert IntakeRejection.objects.count() == 0  # nothing was submitted
    assert SubmissionDraft.objects.count() == DraftDocument.objects.count() == 0
    assert not [p for p in storage.rglob("*") if p.is_file()]


def test_a_bad_pdf_a_bad_phone_and_a_bad_email_are_refused_together_and_nothing_is_stored(
    session, storage
):
    bad = b"%PDF-1.7 not really a PDF"
    data = form(
        ("phone", "call me maybe"),
        ("email", "not-an-address"),
        ("username", "suspect_one"),
        files=[("order.pdf", bad)],
    )
    errors = errors_of(check(session, data))
    assert set(errors) == {"targets-0-value", "targets-1-value", "attachments"}
    assert errors["attachments"].startswith("order.pdf is not a valid PDF")
    assert errors["targets-0-value"].startswith("Not a valid phone number")
    assert errors["targets-1-value"].startswith("Not a valid email address")
    assert_nothing_stored(storage)


def test_the_page_and_the_api_refuse_a_value_in_the_same_words(session, officer):
    page = errors_of(check(session, form(("phone", "call me maybe"), files=[("o.pdf", pdf())])))
    signer = enrol_signing_key(officer)
    sub = submission(targets=[{"type": "phone", "value": "call me maybe"}])
    api = post_envelope(session, sub.sign(signer), sub.files).json()
    assert api["errors"] == [
        {"field": "payload.request.targets.0.value", "message": page["targets-0-value"]}
    ]

    document = b"\x89PNG\r\n\x1a\n but a PDF by name"
    page = errors_of(check(session, form(("username", "x"), files=[("order.pdf", document)])))
    sub = submission(files=[("order.pdf", document, "application/pdf")])
    api = post_envelope(session, sub.sign(signer), sub.files).json()
    assert api["detail"] == page["attachments"]


def test_a_declared_file_that_is_not_sent_is_named(session, storage):
    data = form(("username", "suspect_one"), files=[("order.pdf", pdf())])
    data["attachment"] = []
    errors = errors_of(check(session, data))
    assert errors == {"attachments": errors["attachments"]}
    assert errors["attachments"].startswith("order.pdf was not sent")
    assert_nothing_stored(storage)


def test_a_file_too_large_is_named_before_it_is_read(session, settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 100
    document = pdf()
    data = form(("username", "suspect_one"), files=[("big order.pdf", document)])
    errors = errors_of(check(session, data))
    assert errors["attachments"].startswith("big order.pdf is larger than")


def test_values_are_written_in_their_form_before_they_are_signed(session):
    """A national number is read for the agency's country (Germany) and signed as E.164."""
    data = form(
        ("phone", "030 1234567"),
        ("email", "Suspect@Mail.EXAMPLE"),
        ("ip_address", "2001:DB8:0::7"),
        ("url", "platform.example/u/nightowl"),
        files=[("order.pdf", pdf())],
        **{
            "targets-2-window_from": "2026-02-01T08:00:00",
            "targets-2-window_to": "2026-02-01T09:30",
            "targets-0-window_from": "2026-02-01T08:00:00",  # hidden on the page: not sent
        },
    )
    today = datetime.now(UTC).date()
    data["period_from"] = "2026-01-01"
    data["period_to"] = today.isoformat()
    response = check(session, data)
    assert response.status_code == 200, response.content
    assert response.json()["payload"]["request"]["targets"] == [
        {"type": "phone", "value": "+49301234567"},
        {"type": "email", "value": "Suspect@mail.example"},
        {
            "type": "ip_address",
            "value": "2001:db8::7",
            "window": {"from": "2026-02-01T08:00:00Z", "to": "2026-02-01T09:30:00Z"},
        },
        {"type": "url", "value": "https://platform.example/u/nightowl"},
    ]


def test_an_ip_address_needs_its_window_in_the_period(session):
    data = form(("ip_address", "203.0.113.7"), files=[("o.pdf", pdf())])
    errors = errors_of(check(session, data))
    assert set(errors) == {"targets-0-window_from"}
    assert "time window" in errors["targets-0-window_from"]

    early = {
        "targets-0-window_from": "2020-01-01T08:00:00",
        "targets-0-window_to": "2020-01-01T09:00:00",
    }
    data = form(("ip_address", "203.0.113.7"), files=[("o.pdf", pdf())], **early)
    errors = errors_of(check(session, data))
    assert errors == {
        "targets-0-window_from": "The time window lies outside the period of the request."
    }

    backwards = {
        "targets-0-window_from": "2026-02-01T09:00:00",
        "targets-0-window_to": "2026-02-01T08:00:00",
    }
    data = form(("ip_address", "203.0.113.7"), files=[("o.pdf", pdf())], **backwards)
    assert errors_of(check(session, data)) == {
        "targets-0-window_to": "The time window ends before it starts."
    }


def test_the_answer_carries_a_summary_in_words_with_names_and_sizes(session):
    document = pdf()
    response = check(session, form(("username", "suspect_one"), files=[("order.pdf", document)]))
    assert response.status_code == 200, response.content
    summary = {row["label"]: row["items"] for row in response.json()["summary"]}
    assert list(summary) == [
        "Kind",
        "Case reference",
        "Offence",
        "Legal basis",
        "Issuing authority",
        "Targets",
        "Data requested",
        "Period",
        "Files",
    ]
    assert summary["Kind"] == [[{"text": "Subscriber data"}]]
    assert summary["Targets"] == [[{"text": "Username: suspect_one"}]]
    assert summary["Issuing authority"][0] == [{"text": "Judge A. Example (Judge)"}]
    (line,) = summary["Files"]
    assert line == [{"text": f"order.pdf ({filesizeformat(len(document))})"}]
    period = summary["Period"][0]
    today = datetime.now(UTC).date()
    assert [part["time"] for part in period if "time" in part] == [
        (today - timedelta(days=60)).isoformat(),
        today.isoformat(),
    ]


def test_the_check_does_not_count_against_the_rate_limit_but_says_when_it_is_spent(
    session, settings
):
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "submission_officer": "1/min"}
    for _ in range(3):  # checking is not submitting
        data = form(("username", "suspect_one"), files=[("o.pdf", pdf())])
        assert check(session, data).status_code == 200

    # One submission spends the budget: the next check says so before the passkey.
    session.post("/requests/new/submit/", {"envelope": SimpleUploadedFile("e.json", b"{}")})
    data = form(("username", "suspect_one"), files=[("o.pdf", pdf())])
    response = check(session, data)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert "Wait" in response.json()["detail"]


def test_the_check_is_for_officers_only(client):
    reviewer = make_user(role="reviewer")
    log_in(client, reviewer)
    response = client.post("/requests/new/subscriber_data/check/", {})
    assert response.status_code == 403
