"""The printable receipt: the signed JSON receipt as a PDF, from the request page and the API.

The PDF's text, read back with pypdf, holds every field of the receipt and the commands
to verify it; those commands, run as printed with bash, make openssl verify the printed
signature against the portal key.
"""

import io
import os
import re
import shutil
import subprocess

import pypdf
import pytest
from django.test import Client

from portal import crypto
from requests_app.lifecycle.models import LegalRequest, RequestShare
from tests.conftest import service_missing
from tests.factories import log_in, make_api_token, make_officer, make_supervisor
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = pytest.mark.django_db


def submitted(client, settings, tmp_path) -> tuple[LegalRequest, str]:
    """A request submitted through the API, with the portal's real receipt; and the token."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    officer = make_officer()
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    sub = submission()
    answer = post_envelope(client, sub.sign(signer), sub.files, token)
    assert answer.status_code == 201, answer.content
    return LegalRequest.objects.get(reference=answer.json()["reference"]), token


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def printed_commands(text: str) -> str:
    """The second block of the PDF: from REFERENCE= to the openssl command's last line."""
    match = re.search(r"^REFERENCE=.*?-sigfile receipt\.sig$", text, flags=re.S | re.M)
    assert match, text
    return match.group(0)


def browser(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


def test_the_printed_signature_verifies_with_openssl_against_the_portal_key(
    client, settings, tmp_path
):
    if not (shutil.which("openssl") and shutil.which("bash") and shutil.which("base64")):
        service_missing("needs openssl, bash and base64 on PATH")
    request, _ = submitted(client, settings, tmp_path)
    receipt = request.receipt

    response = browser(request.officer.user).get(f"/requests/mine/{request.reference}/receipt.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{request.reference}-receipt.pdf"'
    )
    text = pdf_text(response.content)
    for field in ("reference", "payload_sha256", "received_at", "alg", "key_id", "signature"):
        assert receipt[field] in text, field
    assert receipt["key_id"] == crypto.portal_public_key_document()["key_id"]
    # The commands as printed, with the pinned portal key beside them.
    desk = tmp_path / "clerk"
    desk.mkdir()
    (desk / "portal-key.pem").write_text(crypto.portal_public_key_document()["public_key_pem"])
    ran = subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-c", printed_commands(text)],
        cwd=desk,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Signature Verified Successfully" in ran.stdout
    # A receipt altered on paper fails the same commands.
    forged = printed_commands(text).replace(receipt["received_at"], "2020-01-01T00:00:00Z")
    refused = subprocess.run(
        ["bash", "-c", forged], cwd=desk, capture_output=True, text=True, timeout=30, check=False
    )
    assert "Signature Verified Successfully" not in refused.stdout


def test_the_api_serves_the_same_receipt_to_the_token_of_the_submitter(client, settings, tmp_path):
    request, token = submitted(client, settings, tmp_path)

    response = Client().get(
        f"/api/v1/submissions/{request.reference}/receipt",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ACCEPT="application/pdf",
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-cache" in response["Cache-Control"]
    text = pdf_text(response.content)
    assert request.receipt["signature"] in text
    assert request.reference in text


def test_a_delegate_gets_the_receipt_and_nobody_else_does(client, settings, tmp_path):
    request, token = submitted(client, settings, tmp_path)
    colleague = make_officer(agency=request.agency)
    RequestShare.objects.create(request=request, officer=colleague, granted_by=request.officer)
    stranger = make_officer()
    supervisor = make_supervisor(agency=request.agency)
    url = f"/requests/mine/{request.reference}/receipt.pdf"

    assert browser(colleague.user).get(url).status_code == 200
    assert browser(stranger.user).get(url).status_code == 404
    assert browser(supervisor.user).get(url).status_code == 403
    stranger_token = make_api_token(officer=stranger)[1]
    api = f"/api/v1/submissions/{request.reference}/receipt"
    assert Client().get(api, HTTP_AUTHORIZATION=f"Bearer {stranger_token}").status_code == 404
    assert Client().get(api).status_code == 401
    assert (
        Client()
        .get("/api/v1/submissions/LR-2026-NOSUCHREF/receipt", HTTP_AUTHORIZATION=f"Bearer {token}")
        .status_code
        == 404
    )
