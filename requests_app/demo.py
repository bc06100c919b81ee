"""Demonstration requests for `make run`, submitted through the real intake pipeline.

Each demo officer gets an active Ed25519 signing key whose private half exists only while
seeding; their requests are signed and pass the same six checks as any other, so the
review queue shows real provenance. The platform directory gets a few accounts for the
targets to match.
"""

import base64
import hashlib
import io
import json
import secrets
import struct
import zlib
from datetime import UTC, datetime, timedelta

import rfc8785
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile

from accounts.models import KeyStatus, Officer, SigningKey
from portal import crypto
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.intake.pipeline import submission_accept_api
from requests_app.lifecycle.models import DataCategory, LegalRequest

DEMO_ACCOUNTS = [
    ("100001", "nightowl", "+5511987650001", "nightowl@mail.example"),
    ("100002", "crypto_king", "+4915112340002", "ck@mail.example"),
    ("100003", "sunny.days", "+33612340003", "sunny@mail.example"),
    ("100004", "rahul_k", "+919812340004", "rahul@mail.example"),
    ("100005", "mapleleaf", "+12025550105", "maple@mail.example"),
]

# (officer email, kind, target username, categories, offence, emergency justification)
DEMO_REQUESTS = [
    (
        "ana.souza@pf.gov.example.br",
        "subscriber_data",
        "nightowl",
        ["ip_addresses", "phone_number"],
        "fraud",
        None,
    ),
    (
        "lena.fischer@bka.example.de",
        "eu_epoc",
        "crypto_king",
        ["subscriber_info", "ip_addresses"],
        "extortion",
        None,
    ),
    (
        "paul.martin@justice.example.fr",
        "court_order",
        "sunny.days",
        ["login_history", "ip_addresses"],
        "cybercrime",
        None,
    ),
    (
        "raj.kumar@cbi.gov.example.in",
        "preservation",
        "rahul_k",
        ["ip_addresses"],
        "drug_trafficking",
        None,
    ),
    (
        "jane.doe@fbi.example.gov",
        "emergency",
        "mapleleaf",
        ["phone_number", "ip_addresses"],
        "kidnapping",
        "A missing 12-year-old is believed to be with the account holder; location needed now.",
    ),
    (
        "lena.fischer@bka.example.de",
        "search_warrant",
        "crypto_king",
        ["device_info", "login_history"],
        "money_laundering",
        None,
    ),
]


def _pdf(title: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _png(rgb: tuple[int, int, int], side: int = 64) -> bytes:
    """A square PNG of one colour: the demo accounts' profile photos."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + bytes(rgb) * side for _ in range(side))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _demo_files(account: PlatformAccount, latest: PlatformIpEvent) -> None:
    """Two files the platform holds: a profile photo, and the connection log of one day."""
    digest = hashlib.sha256(account.username.encode()).digest()
    platform_file_store(
        account=account,
        name="profile-photo.png",
        media_type="image/png",
        category=DataCategory.SUBSCRIBER_INFO,
        data=_png((digest[0], digest[1], digest[2])),
    )
    day = latest.at.date().isoformat()
    log = f"at,ip,port,kind\n{latest.at:%Y-%m-%dT%H:%M:%SZ},{latest.ip},{latest.port},login\n"
    platform_file_store(
        account=account,
        name=f"connections-{day}.csv",
        media_type="text/csv",
        category=DataCategory.IP_ADDRESSES,
        data=log.encode(),
        at=latest.at,
    )


def _directory() -> None:
    now = datetime.now(UTC)
    for user_id, username, phone, email in DEMO_ACCOUNTS:
        account, created = PlatformAccount.objects.get_or_create(
            user_id=user_id,
            defaults={
                "username": username,
                "phone_number": phone,
                "email": email,
                "display_name": username.replace("_", " ").title(),
                "registered_at": now - timedelta(days=700),
            },
        )
        if created:
            events = [
                PlatformIpEvent.objects.create(
                    account=account,
                    kind=PlatformIpEvent.Kind.LOGIN,
                    ip=f"203.0.113.{(day % 200) + 1}",
                    port=40000 + day,
                    at=now - timedelta(days=day, hours=3),
                    device="Android 15, app 11.2",
                )
                for day in range(0, 300, 17)
            ]
            _demo_files(account, events[0])


def _demo_key(officer: Officer) -> tuple[crypto.Ed25519PrivateKey, SigningKey]:
    private = crypto.ed25519_private_key_generate()
    public = private.public_key()
    key = SigningKey.objects.create(
        officer=officer,
        label="Demo case system",
        public_key_pem=crypto.ed25519_public_key_pem(public),
        key_id=crypto.ed25519_key_id(public),
        status=KeyStatus.ACTIVE,
    )
    return private, key


def seed_demo_requests() -> int:
    """Submit the demo requests once; return how many exist."""
    if settings.PRODUCTION:
        raise ImproperlyConfigured("seed_demo refuses to run in production mode.")
    _directory()
    if LegalRequest.objects.filter(case_reference__startswith="DEMO-").exists():
        return LegalRequest.objects.filter(case_reference__startswith="DEMO-").count()
    keys: dict[str, tuple[crypto.Ed25519PrivateKey, SigningKey]] = {}
    today = datetime.now(UTC).date()
    for number, (email, kind, username, categories, offence, justification) in enumerate(
        DEMO_REQUESTS, 1
    ):
        officer = Officer.objects.select_related("agency").get(user__email=email)
        if email not in keys:
            keys[email] = _demo_key(officer)
        private, key = keys[email]
        files: list[UploadedFile] = []
        body = {
            "kind": kind,
            "case_reference": f"DEMO-{number:03d}",
            "legal_basis": "Demonstration legal basis",
            "issuing_authority": {
                "name": "Demonstration judge",
                "role": "judge",
                "contact": officer.agency.callback_phone,
            },
            "offence": offence,
            "targets": [{"type": "username", "value": username}],
            "data_categories": categories,
            "period": {"from": str(today - timedelta(days=90)), "to": str(today)},
        }
        if justification:
            body["emergency"] = {"justification": justification}
        if kind not in ("preservation", "emergency"):
            document = _pdf(f"Order DEMO-{number:03d}")
            files.append(SimpleUploadedFile("order.pdf", document, "application/pdf"))
            body["attachments"] = [
                {
                    "filename": "order.pdf",
                    "media_type": "application/pdf",
                    "sha256": hashlib.sha256(document).hexdigest(),
                    "size": len(document),
                }
            ]
        payload = {
            "portal": settings.PORTAL_AUDIENCE,
            "nonce": secrets.token_urlsafe(24),
            "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "request": body,
        }
        signature = private.sign(rfc8785.dumps(payload))
        envelope = json.dumps(
            {
                "payload": payload,
                "signature": {
                    "alg": "ed25519",
                    "key_id": key.key_id,
                    "value": base64.b64encode(signature).decode(),
                },
            }
        ).encode()
        submission_accept_api(raw_envelope=envelope, uploads=files, officer=officer, ip="127.0.0.1")
    return LegalRequest.objects.filter(case_reference__startswith="DEMO-").count()


# --- An answered request of the demo case system ---------------------------------------
# The demo officer's case system (accounts.demo.seed_demo_case_system) sent a request that
# two reviewers approved and delivery sealed to the officer's demo age recipient, so that
# the receiving guide's commands have a response to open. It goes the whole way through
# the real services: intake, the checklist, four eyes with the records previewed, the
# hand-over; the seal itself is delivery's task, run after the seeding commits.

ANSWERED_CASE_PREFIX = "PF-DEMO-"
ANSWERED_TARGET = "nightowl"
DEMO_REVIEWERS = ("reviewer@platform.example", "second.reviewer@platform.example")


def demo_order_pdf() -> bytes:
    """The legal document the guides attach as order.pdf (a one-page demo order)."""
    return _pdf("Production order PF-2026-0412 (demonstration)")


def answered_request_for(*, recipient: str, officer: Officer) -> LegalRequest | None:
    """The officer's demo request whose response is (or will be) sealed to ``recipient``.

    A response already sealed to it and still downloadable counts, and so does one
    handed to delivery and waiting for its seal.
    """
    from requests_app.delivery.models import Disclosure, SealedResponse

    sealed = SealedResponse.objects.filter(
        request__officer=officer,
        request__case_reference__startswith=ANSWERED_CASE_PREFIX,
        purged_at__isnull=True,
        expires_at__gt=datetime.now(UTC),
    ).select_related("request")
    for response in sealed:  # a few rows; SQLite has no JSON "contains"
        if recipient in response.recipients:
            return response.request
    waiting = (
        Disclosure.objects.filter(
            request__officer=officer,
            request__case_reference__startswith=ANSWERED_CASE_PREFIX,
            state=Disclosure.State.PENDING,
        )
        .select_related("request")
        .first()
    )
    return waiting.request if waiting is not None else None


def seed_demo_answered_request(
    *, officer: Officer, private_key: crypto.Ed25519PrivateKey, key: SigningKey, recipient: str
) -> LegalRequest:
    """Make sure the officer has a request answered with a response sealed to ``recipient``.

    Idempotent: an answer sealed to that recipient (or waiting for its seal) is kept; with
    a new recipient (a new identity file), a new request is sent and answered.
    """
    from accounts.models import User
    from requests_app.review import services as review
    from requests_app.review.disclosure import disclosure_preview
    from requests_app.review.models import AssessmentItem

    if settings.PRODUCTION:
        raise ImproperlyConfigured("seed_demo refuses to run in production mode.")
    existing = answered_request_for(recipient=recipient, officer=officer)
    if existing is not None:
        return existing
    first, second = (User.objects.get(email=email) for email in DEMO_REVIEWERS)
    today = datetime.now(UTC).date()
    number = LegalRequest.objects.filter(case_reference__startswith=ANSWERED_CASE_PREFIX).count()
    document = demo_order_pdf()
    body = {
        "kind": "subscriber_data",
        "case_reference": f"{ANSWERED_CASE_PREFIX}{number + 1:03d}",
        "legal_basis": "Demonstration legal basis",
        "issuing_authority": {
            "name": "Demonstration judge",
            "role": "judge",
            "contact": officer.agency.callback_phone,
        },
        "offence": "fraud",
        "targets": [{"type": "username", "value": ANSWERED_TARGET}],
        "data_categories": ["subscriber_info", "ip_addresses"],
        "period": {"from": str(today - timedelta(days=90)), "to": str(today)},
        "attachments": [
            {
                "filename": "order.pdf",
                "media_type": "application/pdf",
                "sha256": hashlib.sha256(document).hexdigest(),
                "size": len(document),
            }
        ],
    }
    payload = {
        "portal": settings.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(24),
        "signed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": body,
    }
    envelope = json.dumps(
        {
            "payload": payload,
            "signature": {
                "alg": "ed25519",
                "key_id": key.key_id,
                "value": base64.b64encode(private_key.sign(rfc8785.dumps(payload))).decode(),
            },
        }
    ).encode()
    request = submission_accept_api(
        raw_envelope=envelope,
        uploads=[SimpleUploadedFile("order.pdf", document, "application/pdf")],
        officer=officer,
        ip="127.0.0.1",
    ).request
    request.refresh_from_db()
    review.request_claim(request=request, reviewer=first)
    review.assessment_save(
        request=request,
        reviewer=first,
        items={item: {"ok": True, "note": "Demonstration."} for item in AssessmentItem.values},
    )
    decision = review.decision_propose_approval(
        request=request,
        reviewer=first,
        target_ids=list(request.targets.values_list("pk", flat=True)),
        categories=list(request.data_categories),
        period_from=request.period_from,
        period_to=request.period_to,
        message="The records the order asks for are attached.",
    )
    disclosure_preview(decision=decision, viewer=second)
    review.decision_confirm(decision=decision, reviewer=second)
    review.disclosure_create(decision=decision, reviewer=second)
    request.refresh_from_db()
    return request
