"""Sealed responses for tests: a request submitted through intake, approved by two reviewers,
handed to delivery and (optionally) sealed, with the officer's age identity to open it.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyrage
from django.utils import timezone

from accounts.models import AgeRecipient, KeyStatus, Officer
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.delivery.sealing import response_seal
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.review.models import Decision
from tests.factories import make_api_token, make_officer, make_user
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

PHONE = "+4915100000042"


def tmp_storage(settings: Any, location: Path) -> Path:
    """Point Django's default storage (where sealed files go) at ``location``."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


def directory_account(*, username: str = "suspect_one", ip_events: int = 2) -> PlatformAccount:
    """The platform account the submissions name, with ``ip_events`` logins in the period.

    A few thousand events make a response large enough that sealing takes a while.
    """
    account, created = PlatformAccount.objects.get_or_create(
        username=username,
        defaults={
            "user_id": f"u-{username}",
            "phone_number": PHONE,
            "registered_at": timezone.now() - timedelta(days=900),
        },
    )
    if created and ip_events:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        PlatformIpEvent.objects.bulk_create(
            PlatformIpEvent(
                account=account,
                kind=PlatformIpEvent.Kind.LOGIN,
                ip=f"198.51.100.{number % 250 + 1}",
                port=40000 + number % 20000,
                at=start + timedelta(minutes=17 * number),
                device=f"Device {number % 7}",
            )
            for number in range(ip_events)
        )
    return account


@dataclass
class Delivery:
    """A disclosure on its way to (or through) delivery, and who may open it."""

    disclosure: Disclosure
    officer: Officer
    token: str
    identity: pyrage.x25519.Identity
    sealed: SealedResponse | None = None

    @property
    def request(self) -> LegalRequest:
        return self.disclosure.request

    @property
    def reference(self) -> str:
        return self.disclosure.request.reference


def approved_decision(
    client, *, officer: Officer | None = None, username: str = "suspect_one", ip_events: int = 2
) -> tuple[Decision, Officer, str]:
    """A request submitted through the API and approved in full by two reviewers.

    Returns the confirmed decision (not yet handed to delivery), the officer and their
    API token.
    """
    officer = officer or make_officer()
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    directory_account(username=username, ip_events=ip_events)
    sub = submission(targets=[{"type": "username", "value": username}])
    answer = post_envelope(client, sub.sign(signer), sub.files, token)
    assert answer.status_code == 201, answer.content
    request = LegalRequest.objects.get(reference=answer.json()["reference"])
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
    return decision, officer, token


def age_identity_for(officer: Officer) -> pyrage.x25519.Identity:
    """A fresh age identity whose recipient is one of the officer's active keys."""
    identity = pyrage.x25519.Identity.generate()
    AgeRecipient.objects.create(
        officer=officer, recipient=str(identity.to_public()), status=KeyStatus.ACTIVE
    )
    return identity


def approved_disclosure(client, **kwargs: Any) -> Delivery:
    """A disclosure recorded for delivery (not sealed), and the officer's identity."""
    decision, officer, token = approved_decision(client, **kwargs)
    disclosure = Disclosure.objects.create(
        request=decision.request, decision=decision, created_by=decision.proposed_by
    )
    return Delivery(disclosure, officer, token, age_identity_for(officer))


def sealed_delivery(client, **kwargs: Any) -> Delivery:
    """A disclosure sealed by the real service: its SealedResponse is in ``sealed``."""
    delivery = approved_disclosure(client, **kwargs)
    delivery.sealed = response_seal(disclosure_id=delivery.disclosure.pk)
    assert delivery.sealed is not None
    return delivery


def delivery_state() -> dict[str, Any]:
    """Everything a download could change: the rows of sealed responses and the audit log."""
    return {
        "sealed": list(
            SealedResponse.objects.order_by("pk").values(
                "pk", "file", "size", "sha256", "expires_at", "purged_at", "download_count"
            )
        ),
        "audit": list(AuditEvent.objects.order_by("seq").values_list("seq", "action", "data")),
    }
