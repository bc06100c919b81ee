"""The API channel of intake (PROTOCOL §2-§5): every refusal code, tried as an attack.

Each refusal is checked three ways: the problem document and its code, the entry in the
intake-rejection log, and that nothing was stored (no request, no attachment, no
"received" audit event).
"""

import base64
import errno
import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.test import override_settings

from accounts.models import Agency, KeyStatus, Officer
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest
from requests_app.review.selectors import attachment_plaintext
from tests.conftest import service_missing
from tests.factories import make_api_token, make_officer
from tests.problems import assert_problem
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.intake.refusals import assert_only_the_rejection_logged
from tests.requests_app.signing import (
    enrol_signing_key,
    now_rfc3339,
    pdf_bytes,
    post_envelope,
    submission,
)

pytestmark = pytest.mark.django_db


def test_a_signed_submission_is_accepted_with_a_receipt_the_portal_key_verifies(
    client, signer, token
):
    sub = submission()
    response = post_envelope(client, sub.sign(signer), sub.files, token)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["reference"].startswith("LR-")
    assert answer["status"] == "received"
    request = LegalRequest.objects.get(reference=answer["reference"])
    assert request.payload == sub.payload
    assert request.key_id == signer.key_id
    assert request.verification_key == request.signing_key.public_key_pem  # pinned
    assert [t.value for t in request.targets.all()] == ["suspect_one"]
    attachment = request.attachments.get()
    assert attachment.sha256 == hashlib.sha256(sub.files[0][1]).hexdigest()
    assert attachment_plaintext(attachment).read() == sub.files[0][1]
    assert request.due_at - request.received_at == timedelta(hours=240)
    assert list(
        AuditEvent.objects.filter(action="legal_request.received").values_list(
            "target_id", flat=True
        )
    ) == [str(request.pk)]

    receipt = answer["receipt"]
    key_doc = client.get("/api/v1/portal-key").json()
    assert receipt["key_id"] == key_doc["key_id"]
    signed = rfc8785.dumps({k: receipt[k] for k in ("reference", "payload_sha256", "received_at")})
    load_pem_public_key(key_doc["public_key_pem"].encode()).verify(
        base64.b64decode(receipt["signature"]), signed
    )
    assert receipt["payload_sha256"] == hashlib.sha256(rfc8785.dumps(sub.payload)).hexdigest()


def test_a_legal_document_is_stored_only_as_ciphertext_to_the_storage_key(
    client, signer, token, settings, tmp_path
):
    """A stolen storage bucket: every stored byte is age ciphertext; the document, its
    hash and its name appear nowhere; only the storage key file opens it."""
    tmp_storage(settings, tmp_path / "bucket")
    sub = submission()
    document = sub.files[0][1]
    assert post_envelope(client, sub.sign(signer), sub.files, token).status_code == 201

    attachment = Attachment.objects.get()
    stored = [path for path in (tmp_path / "bucket").rglob("*") if path.is_file()]
    assert [path.name for path in stored] == [Path(attachment.file.name).name]
    content = stored[0].read_bytes()
    assert content.startswith(b"age-encryption.org/v1\n")
    assert document not in content
    assert b"%PDF" not in content
    assert attachment.sha256 not in stored[0].name
    # The storage key opens it, with Debian's age as an operator would.
    if shutil.which("age") is None:
        service_missing("needs Debian's age binary (apt-get install age)")
    opened = subprocess.run(  # noqa: S603
        ["age", "-d", "-i", str(settings.PORTAL_STORAGE_KEY_FILE), str(stored[0])],  # noqa: S607
        capture_output=True,
        check=True,
    )
    assert opened.stdout == document
    assert attachment_plaintext(attachment).read() == document


def test_a_full_disk_is_503_unavailable_with_retry_after_and_nothing_is_stored(
    client, signer, token, monkeypatch
):
    from django.core.files.storage import default_storage

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(default_storage, "save", disk_full)
    sub = submission()

    response = post_envelope(client, sub.sign(signer), sub.files, token)

    assert_problem(response, status=503, code="unavailable")
    assert response["Retry-After"] == "30"
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()
    monkeypatch.undo()
    # Sent again once the disk has room: accepted.
    assert post_envelope(client, sub.sign(signer), sub.files, token).status_code == 201


def test_a_database_outage_is_503_unavailable(client, signer, token, monkeypatch):
    from django.db import OperationalError

    from requests_app.intake import api as api

    def down(**kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed")

    monkeypatch.setattr(api, "submission_accept_api", down)
    sub = submission()

    response = post_envelope(client, sub.sign(signer), sub.files, token)

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert "nothing was stored" in response.json()["detail"]


def test_a_byte_identical_retry_gets_the_original_answer_and_no_second_request(
    client, signer, token
):
    sub = submission()
    envelope = json.dumps(sub.sign(signer)).encode()
    first = post_envelope(client, envelope, sub.files, token)
    second = post_envelope(client, envelope, sub.files, token)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert LegalRequest.objects.count() == 1
    assert IntakeRejection.objects.count() == 0


def test_any_key_order_or_whitespace_of_the_same_payload_verifies(client, signer, token):
    sub = submission()
    envelope = sub.sign(signer)
    reordered = {
        "signature": envelope["signature"],
        "payload": dict(reversed(list(envelope["payload"].items()))),
    }
    response = post_envelope(client, json.dumps(reordered, indent=3).encode(), sub.files, token)
    assert response.status_code == 201, response.content


def test_not_json_is_malformed(client, signer, token):
    problem = assert_problem(
        post_envelope(client, b"{not json", (), token), status=400, code="malformed"
    )
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)
    assert problem["errors"][0]["field"] == "(envelope)"


def test_an_unknown_field_is_malformed_not_ignored(client, signer, token):
    sub = submission()
    sub.payload["request"]["priority"] = "urgent"
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token), status=400, code="malformed"
    )
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)
    assert {
        "field": "payload.request.priority",
        "message": "This field is not part of the protocol.",
    } in problem["errors"]


def _unknown_field(payload: dict) -> None:
    payload["request"]["priority"] = "urgent"


def _category_twice(payload: dict) -> None:
    payload["request"]["data_categories"] = ["subscriber_info", "subscriber_info"]


def _size_as_text(payload: dict) -> None:
    payload["request"]["attachments"] = [
        {"filename": "o.pdf", "media_type": "application/pdf", "sha256": "0" * 64, "size": "9"}
    ]


def _emergency_unjustified(payload: dict) -> None:
    payload["request"]["kind"] = "emergency"


def _signed_at_with_offset(payload: dict) -> None:
    payload["signed_at"] = payload["signed_at"].replace("Z", "+00:00")


@pytest.mark.parametrize(
    ("language", "spoil", "field", "message"),
    [
        (
            "de",
            _unknown_field,
            "payload.request.priority",
            "Dieses Feld gehört nicht zum Protokoll.",
        ),
        (
            "fr",
            _category_twice,
            "payload.request.data_categories",
            "Chaque catégorie une seule fois.",
        ),
        ("hi", _size_as_text, "payload.request.attachments.0.size", "एक JSON पूर्णांक अपेक्षित था।"),
        (
            "pt-br",
            _emergency_unjustified,
            "payload.request.emergency",
            "Uma requisição emergencial precisa de uma justificativa.",
        ),
        (
            "es",
            _signed_at_with_offset,
            "payload.signed_at",
            "Una hora UTC con el formato AAAA-MM-DDTHH:MM:SSZ, p. ej. 2026-02-01T08:00:00Z.",
        ),
    ],
)
def test_the_schemas_own_field_messages_are_in_the_requests_language(
    client, signer, token, language, spoil, field, message
):
    # PROTOCOL §5.8: errors[].message is for a person, in the language asked for; the
    # schema's own rules answer so, as DRF's built-in ones do.
    sub = submission()
    spoil(sub.payload)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    response = post_envelope(client, sub.sign(signer), (), token)
    problem = assert_problem(response, status=400, code="malformed")
    assert {"field": field, "message": message} in problem["errors"], problem["errors"]
    assert response["Content-Language"] == language
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)


def test_a_lone_surrogate_in_text_is_malformed_on_its_field(client, signer, token):
    # JSON can write a lone UTF-16 surrogate ("\\udfff"); no text field takes one, and the
    # first one is named (DRF's words, found by the schema's own faster search).
    sub = submission()
    envelope = sub.sign(signer)
    envelope["payload"]["request"]["case_reference"] = "PF-\udfff-\ud800"
    problem = assert_problem(
        post_envelope(client, envelope, sub.files, token), status=400, code="malformed"
    )
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)
    assert problem["errors"] == [
        {
            "field": "payload.request.case_reference",
            "message": "Surrogate characters are not allowed: U+DFFF.",
        }
    ]


def test_each_schema_error_is_listed_by_field(client, signer, token):
    sub = submission(kind="coffee", targets=[{"type": "username"}])
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token), status=400, code="malformed"
    )
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)
    fields = {e["field"] for e in problem["errors"]}
    assert {"payload.request.kind", "payload.request.targets.0.value"} <= fields


def test_a_duplicate_json_key_is_malformed(client, signer, token):
    raw = b'{"payload": {}, "payload": {}, "signature": {}}'
    assert_problem(post_envelope(client, raw, (), token), status=400, code="malformed")
    assert_only_the_rejection_logged("malformed", channel="api", body_hashed=True)


def test_no_token_is_unauthenticated(client, signer):
    sub = submission()
    response = post_envelope(client, sub.sign(signer), sub.files, None)
    assert_problem(response, status=401, code="unauthenticated")
    assert_only_the_rejection_logged("unauthenticated", channel="api")


def test_reading_submissions_without_a_token_is_unauthenticated_in_the_asked_language(client):
    response = client.get("/api/v1/submissions", HTTP_ACCEPT_LANGUAGE="fr")
    problem = assert_problem(response, status=401, code="unauthenticated")
    assert problem["detail"] == (
        "Envoyez un jeton d’API, ou connectez-vous avec un second facteur."
    )
    assert response["Content-Language"] == "fr"
    assert "LR-" not in response.content.decode()  # no request's reference


def test_a_forged_token_is_unauthenticated(client, signer):
    sub = submission()
    response = post_envelope(client, sub.sign(signer), sub.files, "ptk_" + "A" * 43)
    assert_problem(response, status=401, code="unauthenticated")
    assert_only_the_rejection_logged("unauthenticated", channel="api")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_id_nobody_enrolled_is_an_unknown_key(client, signer, token):
    sub = submission()
    response = post_envelope(
        client, sub.sign(signer, key_id="ed25519:" + "0" * 64), sub.files, token
    )
    assert_problem(response, status=401, code="unknown_key")
    assert_only_the_rejection_logged("unknown_key", channel="api", body_hashed=True)


def test_another_officers_key_is_an_unknown_key_even_with_a_valid_signature(client, officer, token):
    colleague = make_officer(agency=officer.agency)
    colleague_signer = enrol_signing_key(colleague)
    sub = submission()
    assert_problem(
        post_envelope(client, sub.sign(colleague_signer), sub.files, token),
        status=401,
        code="unknown_key",
    )
    assert_only_the_rejection_logged("unknown_key", channel="api", body_hashed=True)


@pytest.mark.parametrize("status", [KeyStatus.PENDING, KeyStatus.REVOKED, KeyStatus.REJECTED])
def test_a_key_that_is_not_active_is_refused(client, officer, token, status):
    inactive = enrol_signing_key(officer, status=status)
    sub = submission()
    assert_problem(
        post_envelope(client, sub.sign(inactive), sub.files, token),
        status=403,
        code="key_not_active",
    )
    assert_only_the_rejection_logged("key_not_active", channel="api", body_hashed=True)


def test_a_signature_over_other_bytes_is_bad(client, signer, token):
    sub = submission()
    envelope = sub.sign(signer)
    envelope["payload"]["request"]["case_reference"] = "PF-2026-0413"
    assert_problem(
        post_envelope(client, envelope, sub.files, token), status=401, code="bad_signature"
    )
    assert_only_the_rejection_logged("bad_signature", channel="api", body_hashed=True)


def test_a_signature_that_is_not_base64_is_bad(client, signer, token):
    sub = submission()
    envelope = sub.sign(signer)
    envelope["signature"]["value"] = "not base64 !!"
    assert_problem(
        post_envelope(client, envelope, sub.files, token), status=401, code="bad_signature"
    )
    assert_only_the_rejection_logged("bad_signature", channel="api", body_hashed=True)


def test_a_second_spelling_of_a_valid_signature_is_bad(client, signer, token):
    # An Ed25519 signature is 64 bytes: its base64 ends in "==" after a character whose
    # last 4 bits are padding. Setting one of them spells the same bytes differently.
    sub = submission()
    envelope = sub.sign(signer)
    value = envelope["signature"]["value"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(value[-3])
    assert last & 0b1111 == 0
    envelope["signature"]["value"] = value[:-3] + alphabet[last | 1] + "=="
    assert base64.b64decode(envelope["signature"]["value"]) == base64.b64decode(value)
    response = post_envelope(client, envelope, sub.files, token)
    problem = assert_problem(response, status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="api", body_hashed=True)
    assert "base64" in problem["detail"]


def test_a_suspended_officers_token_is_refused(client, officer, signer, token):
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)
    sub = submission()
    response = post_envelope(client, sub.sign(signer), sub.files, token)
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("officer_not_active", "unauthenticated")
    assert LegalRequest.objects.count() == 0
    assert IntakeRejection.objects.get().code == response.json()["code"]


def test_an_officer_of_a_suspended_agency_is_refused(client, officer, signer, token):
    Agency.objects.filter(pk=officer.agency_id).update(status=Agency.Status.SUSPENDED)
    sub = submission()
    response = post_envelope(client, sub.sign(signer), sub.files, token)
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("agency_not_verified", "unauthenticated")
    assert LegalRequest.objects.count() == 0


def test_a_payload_for_another_portal_is_the_wrong_audience(client, signer, token):
    sub = submission()
    sub.payload["portal"] = "https://phishing.example"
    assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token), status=400, code="wrong_audience"
    )
    assert_only_the_rejection_logged("wrong_audience", channel="api", body_hashed=True)


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_payload_signed_more_than_five_minutes_away_is_stale(client, signer, token, minutes):
    sub = submission()
    sub.payload["signed_at"] = now_rfc3339(datetime.now(UTC) + timedelta(minutes=minutes))
    assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token), status=400, code="stale"
    )
    assert_only_the_rejection_logged("stale", channel="api", body_hashed=True)


def test_a_nonce_seen_before_with_another_envelope_is_a_replay(client, signer, token):
    first = submission()
    assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
    again = submission()
    again.payload["nonce"] = first.payload["nonce"]
    response = post_envelope(client, again.sign(signer), again.files, token)
    assert response.status_code == 409
    assert response.json()["code"] == "replay"
    assert LegalRequest.objects.count() == 1
    assert IntakeRejection.objects.get().code == "replay"


def test_an_attachment_whose_bytes_differ_from_the_declared_hash_is_refused(client, signer, token):
    sub = submission()
    envelope = sub.sign(signer)
    tampered = [("order.pdf", pdf_bytes("another order"), "application/pdf")]
    assert_problem(
        post_envelope(client, envelope, tampered, token), status=422, code="attachment_mismatch"
    )
    assert_only_the_rejection_logged("attachment_mismatch", channel="api", body_hashed=True)


def test_a_declared_attachment_that_was_not_uploaded_is_refused(client, signer, token):
    sub = submission()
    assert_problem(
        post_envelope(client, sub.sign(signer), [], token), status=422, code="attachment_mismatch"
    )
    assert_only_the_rejection_logged("attachment_mismatch", channel="api", body_hashed=True)


def test_an_undeclared_extra_upload_is_refused(client, signer, token):
    sub = submission()
    extra = [*sub.files, ("extra.pdf", pdf_bytes("extra"), "application/pdf")]
    assert_problem(
        post_envelope(client, sub.sign(signer), extra, token),
        status=422,
        code="attachment_mismatch",
    )
    assert_only_the_rejection_logged("attachment_mismatch", channel="api", body_hashed=True)


def test_a_file_declared_as_pdf_that_is_not_a_pdf_is_refused(client, signer, token):
    fake = b"%PDF-1.7 this is a script, not a document"
    sub = submission(files=[("order.pdf", fake, "application/pdf")])
    assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token),
        status=422,
        code="attachment_mismatch",
    )
    assert_only_the_rejection_logged("attachment_mismatch", channel="api", body_hashed=True)


def _damaged_pdfs() -> dict[str, bytes]:
    """PDFs a lenient reader would open after rebuilding them; the check must not."""
    import io

    from pypdf import PdfWriter

    good = pdf_bytes("the order")
    offset = good[good.rindex(b"startxref") + len(b"startxref") :].split()[0]
    no_pages = PdfWriter()
    no_pages_out = io.BytesIO()
    no_pages.write(no_pages_out)
    locked = PdfWriter()
    locked.add_blank_page(width=612, height=792)
    locked.encrypt(user_password="only-the-sender-knows", algorithm="AES-256")
    locked_out = io.BytesIO()
    locked.write(locked_out)
    return {
        # The cross-reference table's offset points elsewhere: readable only by guessing.
        "a wrong startxref": good.replace(b"startxref\n" + offset, b"startxref\n7"),
        "no cross-reference table": good.replace(b"xref\n", b"xxxx\n", 1),
        "cut short": good[: len(good) // 2],
        "no page": no_pages_out.getvalue(),
        "a password to open it": locked_out.getvalue(),
    }


@pytest.mark.parametrize("damage", list(_damaged_pdfs()))
def test_a_damaged_or_locked_pdf_is_refused_and_nothing_is_stored(client, signer, token, damage):
    """The PDF check reads the file as written (no recovery, no password): a reviewer
    must be able to open what was accepted."""
    sub = submission(files=[("order.pdf", _damaged_pdfs()[damage], "application/pdf")])
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token),
        status=422,
        code="attachment_mismatch",
    )
    assert "order.pdf is not a valid PDF" in problem["detail"]
    assert_only_the_rejection_logged("attachment_mismatch", channel="api", body_hashed=True)


def test_a_whole_pdf_of_many_pages_is_accepted(client, signer, token):
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(40):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    sub = submission(files=[("order.pdf", out.getvalue(), "application/pdf")])
    response = post_envelope(client, sub.sign(signer), sub.files, token)
    assert response.status_code == 201, response.content
    assert Attachment.objects.get().size == len(out.getvalue())


def test_a_kind_the_country_may_not_use_is_a_policy_violation(client, token, officer, signer):
    assert officer.agency.country.code == "DE"
    us_officer = make_officer(agency=None)
    Agency.objects.filter(pk=us_officer.agency_id).update(country="US")
    us_signer = enrol_signing_key(us_officer)
    us_token = make_api_token(officer=us_officer)[1]
    sub = submission(kind="eu_epoc")
    problem = assert_problem(
        post_envelope(client, sub.sign(us_signer), sub.files, us_token),
        status=422,
        code="policy_violation",
    )
    assert_only_the_rejection_logged("policy_violation", channel="api", body_hashed=True)
    assert problem["rule"] == "kind_not_allowed"


def test_a_european_production_order_from_denmark_is_a_policy_violation(client):
    """Denmark is an EU member state but is not bound by Regulation (EU) 2023/1543."""
    for country, stored in (("DK", 0), ("AT", 1)):
        officer = make_officer(agency=None)
        Agency.objects.filter(pk=officer.agency_id).update(country=country)
        signer = enrol_signing_key(officer)
        token = make_api_token(officer=officer)[1]
        sub = submission(kind="eu_epoc")
        response = post_envelope(client, sub.sign(signer), sub.files, token)
        if not stored:
            problem = assert_problem(response, status=422, code="policy_violation")
            assert problem["rule"] == "kind_not_allowed"
            assert_only_the_rejection_logged("policy_violation", channel="api", body_hashed=True)
        else:
            assert response.status_code == 201, response.content
        assert LegalRequest.objects.filter(officer=officer).count() == stored


def test_a_category_not_disclosable_for_the_kind_is_a_policy_violation(client, signer, token):
    sub = submission(data_categories=["login_history"])
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token),
        status=422,
        code="policy_violation",
    )
    assert_only_the_rejection_logged("policy_violation", channel="api", body_hashed=True)
    assert problem["rule"] == "category_not_disclosable"


def test_a_kind_that_needs_a_legal_document_without_one_is_a_policy_violation(
    client, signer, token
):
    sub = submission(files=[])
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), [], token), status=422, code="policy_violation"
    )
    assert_only_the_rejection_logged("policy_violation", channel="api", body_hashed=True)
    assert problem["rule"] == "document_required"


def test_an_unbounded_period_is_a_policy_violation(client, signer, token):
    sub = submission(period={"from": "2016-01-01", "to": "2026-01-01"})
    problem = assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token),
        status=422,
        code="policy_violation",
    )
    assert_only_the_rejection_logged("policy_violation", channel="api", body_hashed=True)
    assert problem["rule"] == "period_too_long"


def test_an_emergency_needs_no_document_and_is_due_in_eight_hours(client, signer, token):
    sub = submission(
        files=[],
        kind="emergency",
        emergency={"justification": "Credible threat to a child's life"},
        data_categories=["ip_addresses"],
    )
    response = post_envelope(client, sub.sign(signer), [], token)
    assert response.status_code == 201, response.content
    request = LegalRequest.objects.get()
    assert request.emergency
    assert request.due_at - request.received_at == timedelta(hours=8)


@override_settings(INTAKE_MAX_ENVELOPE_BYTES=2048)
def test_an_envelope_over_the_size_limit_is_too_large(client, signer, token):
    sub = submission(legal_basis="x" * 3000)
    assert_problem(
        post_envelope(client, sub.sign(signer), sub.files, token), status=413, code="too_large"
    )
    assert_only_the_rejection_logged("too_large", channel="api")


def test_submitting_too_fast_is_rate_limited_with_retry_after(client, signer, token, settings):
    from django.core.cache import cache

    cache.clear()
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "submission_token": "1/min"}
    try:
        first = submission()
        assert post_envelope(client, first.sign(signer), first.files, token).status_code == 201
        second = submission()
        response = post_envelope(client, second.sign(signer), second.files, token)
        assert response.status_code == 429
        assert response.json()["code"] == "rate_limited"
        assert int(response["Retry-After"]) > 0
        assert LegalRequest.objects.count() == 1
        assert IntakeRejection.objects.get().code == "rate_limited"
    finally:
        cache.clear()


def test_an_officer_reads_their_agencys_submissions_and_never_another_agencys(
    client, officer, signer, token
):
    sub = submission()
    reference = post_envelope(client, sub.sign(signer), sub.files, token).json()["reference"]
    colleague = make_officer(agency=officer.agency)
    stranger = make_officer()
    colleague_token = make_api_token(officer=colleague)[1]
    stranger_token = make_api_token(officer=stranger)[1]

    own = client.get("/api/v1/submissions", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [r["reference"] for r in own.json()] == [reference]
    # a colleague sees it only once it is shared with them (requests_app/officer/sharing.py)
    listing = client.get("/api/v1/submissions", HTTP_AUTHORIZATION=f"Bearer {colleague_token}")
    assert listing.json() == []
    response = client.get(
        f"/api/v1/submissions/{reference}", HTTP_AUTHORIZATION=f"Bearer {colleague_token}"
    )
    assert response.status_code == 404

    assert (
        client.get("/api/v1/submissions", HTTP_AUTHORIZATION=f"Bearer {stranger_token}").json()
        == []
    )
    response = client.get(
        f"/api/v1/submissions/{reference}", HTTP_AUTHORIZATION=f"Bearer {stranger_token}"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
