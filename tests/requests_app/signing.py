"""Build signed submissions the way an authority's tools do (tests only)."""

import base64
import hashlib
import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from accounts.models import KeyStatus, Officer, SigningKey


def pdf_bytes(text: str = "Court order") -> bytes:
    """A small, valid one-page PDF (pypdf writes it) that differs per ``text``."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class Signer:
    private_key: Ed25519PrivateKey
    key: SigningKey

    @property
    def key_id(self) -> str:
        return self.key.key_id


def enrol_signing_key(officer: Officer, *, status: str = KeyStatus.ACTIVE) -> Signer:
    private_key = Ed25519PrivateKey.generate()
    public = private_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    key = SigningKey.objects.create(
        officer=officer,
        public_key_pem=pem,
        key_id="ed25519:" + hashlib.sha256(raw).hexdigest(),
        status=status,
    )
    return Signer(private_key, key)


def now_rfc3339(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Submission:
    payload: dict[str, Any]
    files: list[tuple[str, bytes, str]] = field(default_factory=list)  # name, bytes, type

    def sign(self, signer: Signer, *, key_id: str | None = None) -> dict[str, Any]:
        signature = signer.private_key.sign(rfc8785.dumps(self.payload))
        return {
            "payload": self.payload,
            "signature": {
                "alg": "ed25519",
                "key_id": key_id or signer.key_id,
                "value": base64.b64encode(signature).decode(),
            },
        }


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "subscriber_data",
        "case_reference": "PF-2026-0412",
        "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
        "issuing_authority": {"name": "Judge A. Example", "role": "judge", "contact": "+4930123"},
        "offence": "fraud",
        "targets": [{"type": "username", "value": "suspect_one"}],
        "data_categories": ["ip_addresses", "phone_number"],
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
    }
    body.update(overrides)
    return body


def submission(
    *, files: list[tuple[str, bytes, str]] | None = None, **request_overrides: Any
) -> Submission:
    """A well-formed submission with a legal document attached (unless ``files=[]``)."""
    files = (
        [("order.pdf", pdf_bytes(secrets.token_hex(4)), "application/pdf")]
        if files is None
        else files
    )
    body = request_body(**request_overrides)
    if files and "attachments" not in request_overrides:
        body["attachments"] = [
            {
                "filename": name,
                "media_type": media,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
            for name, data, media in files
        ]
    payload = {
        "portal": settings.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(24),
        "signed_at": now_rfc3339(),
        "request": body,
    }
    return Submission(payload, files)


def post_envelope(client, envelope: dict[str, Any] | bytes, files=(), token: str | None = None):
    """POST a submission as multipart, the way curl -F does."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    raw = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    data: dict[str, Any] = {
        "envelope": SimpleUploadedFile("envelope.json", raw, "application/json")
    }
    if files:
        data["attachment"] = [SimpleUploadedFile(n, b, t) for n, b, t in files]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/submissions", data=data, **headers)
