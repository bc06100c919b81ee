"""Sealed delivery (PROTOCOL §6): the response opens with Debian's `age`, verifies with openssl."""

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pyrage
import pytest
from django.utils import timezone

from accounts.models import AgeRecipient, KeyStatus
from portal import crypto
from portal.models import AuditEvent
from requests_app.delivery.sealing import response_seal, seal_to_file
from requests_app.models import (
    Decision,
    Disclosure,
    LegalRequest,
    PlatformAccount,
    PlatformIpEvent,
    SealedResponse,
)
from tests.conftest import service_missing
from tests.factories import make_api_token, make_officer, make_user
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sealed_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    return tmp_path / "storage"


def approved_disclosure(client, *, with_recipient: bool = True):
    """A request submitted through the API, approved by two reviewers, handed to delivery."""
    officer = make_officer()
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    account = PlatformAccount.objects.create(
        user_id="42",
        username="suspect_one",
        phone_number="+4915100000042",
        registered_at=timezone.now() - timedelta(days=900),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind="login",
        ip="198.51.100.7",
        at=timezone.now().replace(year=2026, month=2, day=1),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind="login",
        ip="198.51.100.99",
        at=timezone.now().replace(year=2025, month=6, day=1),
    )
    sub = submission()
    reference = post_envelope(client, sub.sign(signer), sub.files, token).json()["reference"]
    request = LegalRequest.objects.get(reference=reference)
    first, second = make_user(role="reviewer"), make_user(role="reviewer")
    decision = Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.APPROVE_FULL,
        state=Decision.State.CONFIRMED,
        proposed_by=first,
        confirmed_by=second,
        confirmed_at=timezone.now(),
        approved_target_ids=list(request.targets.values_list("pk", flat=True)),
        approved_categories=list(request.data_categories),
        approved_period_from=date(2026, 1, 1),
        approved_period_to=date(2026, 3, 31),
        message_to_authority="Records attached.",
    )
    LegalRequest.objects.filter(pk=request.pk).update(status=LegalRequest.Status.APPROVED)
    disclosure = Disclosure.objects.create(request=request, decision=decision, created_by=first)
    identity = pyrage.x25519.Identity.generate()
    if with_recipient:
        AgeRecipient.objects.create(
            officer=officer, recipient=str(identity.to_public()), status=KeyStatus.ACTIVE
        )
    return disclosure, identity


def test_a_sealed_response_opens_with_age_and_its_signature_verifies_with_openssl(client, tmp_path):
    if not (shutil.which("age") and shutil.which("openssl")):
        service_missing("needs Debian's age and openssl binaries (apt-get install age openssl)")
    disclosure, identity = approved_disclosure(client)

    sealed = response_seal(disclosure_id=disclosure.pk)

    assert sealed is not None
    (tmp_path / "identity.txt").write_text(str(identity) + "\n")
    (tmp_path / "response.age").write_bytes(sealed.file.read())
    subprocess.run(  # noqa: S603
        ["age", "-d", "-i", "identity.txt", "-o", "r.zip", "response.age"],  # noqa: S607
        cwd=tmp_path,
        check=True,
    )
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert sorted(archive.namelist()) == ["response.json", "response.json.sig"]
        archive.extractall(tmp_path)
    (tmp_path / "portal.pem").write_text(crypto.portal_public_key_document()["public_key_pem"])
    verified = subprocess.run(  # noqa: S603
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "portal.pem",
            "-rawin",  # noqa: S607
            "-in",
            "response.json",
            "-sigfile",
            "response.json.sig",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Signature Verified Successfully" in verified.stdout, verified.stdout + verified.stderr

    document = json.loads((tmp_path / "response.json").read_text())
    assert document["reference"] == disclosure.request.reference
    (target,) = document["records"]
    assert target["found"] is True
    # only the approved period: the 2025 login is outside it
    assert [e["ip"] for e in target["records"]["ip_addresses"]] == ["198.51.100.7"]
    assert target["records"]["phone_number"] == {"phone_number": "+4915100000042"}


def test_sealing_twice_stores_one_response_and_moves_the_request_to_disclosed(
    client, sealed_storage
):
    disclosure, identity = approved_disclosure(client)
    first = response_seal(disclosure_id=disclosure.pk)
    second = response_seal(disclosure_id=disclosure.pk)
    assert first is not None
    assert second is not None
    assert first.pk == second.pk
    assert SealedResponse.objects.count() == 1
    assert len(list((sealed_storage / "sealed").iterdir())) == 1
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.SEALED
    assert LegalRequest.objects.get(pk=disclosure.request_id).status == "disclosed"
    assert AuditEvent.objects.filter(action="response.sealed").count() == 1
    plaintext = pyrage.decrypt(first.file.read(), [identity])
    assert "response.json" in zipfile.ZipFile(io.BytesIO(plaintext)).namelist()


def test_no_plaintext_reaches_the_storage(client, sealed_storage):
    disclosure, _identity = approved_disclosure(client)
    response_seal(disclosure_id=disclosure.pk)
    for path in Path(sealed_storage).rglob("*"):
        if path.is_file() and path.parent.name == "sealed":
            data = path.read_bytes()
            assert data.startswith(b"age-encryption.org/v1")
            assert b"+4915100000042" not in data
            assert b"suspect_one" not in data


def test_without_an_active_recipient_nothing_is_sealed_and_the_failure_is_recorded(client):
    disclosure, _identity = approved_disclosure(client, with_recipient=False)
    assert response_seal(disclosure_id=disclosure.pk) is None
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.FAILED
    assert SealedResponse.objects.count() == 0
    assert AuditEvent.objects.filter(action="disclosure.seal_failed").exists()


def test_a_revoked_recipient_is_not_sealed_to(client):
    disclosure, identity = approved_disclosure(client)
    AgeRecipient.objects.update(status=KeyStatus.REVOKED)
    other = pyrage.x25519.Identity.generate()
    AgeRecipient.objects.create(
        officer=disclosure.request.officer,
        recipient=str(other.to_public()),
        status=KeyStatus.ACTIVE,
    )
    sealed = response_seal(disclosure_id=disclosure.pk)
    assert sealed.recipients == [str(other.to_public())]
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed.file.read(), [identity])


def test_a_large_member_streams_through_the_seal_and_opens_with_age_and_unzip(tmp_path):
    if not (shutil.which("age") and shutil.which("unzip")):
        service_missing("needs Debian's age and unzip binaries (apt-get install age unzip)")
    identity = pyrage.x25519.Identity.generate()
    produced = hashlib.sha256()

    def chunks():  # 8 MiB, one MiB at a time: never held whole
        for number in range(8):
            chunk = bytes([number]) * (1024 * 1024)
            produced.update(chunk)
            yield chunk

    with (tmp_path / "response.age").open("wb") as out:
        written = seal_to_file(
            [("response.json", b'{"reference": "LR-1"}'), ("files/video.bin", chunks())],
            [str(identity.to_public())],
            out,
        )

    data = (tmp_path / "response.age").read_bytes()
    assert (written.size, written.digest.hexdigest()) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    (tmp_path / "identity.txt").write_text(str(identity) + "\n")
    subprocess.run(
        ["age", "-d", "-i", "identity.txt", "-o", "r.zip", "response.age"], cwd=tmp_path, check=True
    )
    tested = subprocess.run(
        ["unzip", "-t", "r.zip"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert archive.getinfo("files/video.bin").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("response.json").compress_type == zipfile.ZIP_DEFLATED
        with archive.open("files/video.bin") as member:
            assert hashlib.file_digest(member, "sha256").hexdigest() == produced.hexdigest()


def test_a_member_that_fails_while_streaming_fails_the_seal_with_its_reason():
    def chunks():
        yield b"x" * 1024
        raise OSError("the platform's file store went away")

    with pytest.raises(crypto.SealError, match="building the archive failed: the platform"):
        seal_to_file(
            [("files/a.bin", chunks())],
            [str(pyrage.x25519.Identity.generate().to_public())],
            io.BytesIO(),
        )
