"""Emergencies nobody claimed: tell the on-call reviewers, again and again until one does.

An emergency request (a life at risk) that is still unclaimed ``EMERGENCY_ESCALATE_MINUTES``
after it was received is escalated: every reviewer on the on-call list gets an email
(without content, like every notification: ``lifecycle.notify``), and when
``PAGING_WEBHOOK_URL`` is set the platform's paging system gets a signed JSON notice. The
n-th notice is due n intervals after receipt, so a sweep that runs late catches up with
one notice, never a burst, and the notices stop as soon as someone claims the request.

Each notice is an audit event on the request (``emergency.escalated``): it is the mark that
the notice was sent (a second sweep at the same moment finds it, under the request's row
lock, and sends nothing), the record for oversight, and what the reviewers' home page shows.

The on-call list is a small table (``OnCallReviewer``) kept by the vetting administrators on
a staff page: who is on call changes by the week, and it is a decision about reviewers that
a reviewer should not be able to take off themselves unseen. Additions and removals are
audited. While the list is empty, every active reviewer is told: an emergency must reach
someone.
"""

import base64
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import rfc8785
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from accounts.models import Role, User
from portal import crypto
from portal.audit import audit_append
from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.lifecycle.notify import Notice, notify_on_commit
from requests_app.review.models import OnCallReviewer

logger = logging.getLogger(__name__)

ESCALATED = "emergency.escalated"
ON_CALL_ADDED = "on_call.added"
ON_CALL_REMOVED = "on_call.removed"
TARGET_TYPE = LegalRequest._meta.label_lower
PAGING_EVENT = "emergency.unclaimed"
SIGNATURE_HEADER = "X-Portal-Signature"
KEY_ID_HEADER = "X-Portal-Key-Id"


def emergency_waiting() -> Notice:
    """The email: that an emergency waits, nothing of which (``lifecycle.notify``)."""
    return Notice(
        gettext_lazy("An emergency request is waiting"),
        gettext_lazy(
            "An emergency request on the authority portal has not been claimed by any "
            "reviewer.\nLog in to the portal and claim it from the review queue now.\n"
        ),
    )


class OnCallRefused(Exception):
    """A change of the on-call list that the rules do not allow."""


def escalate_after() -> timedelta:
    return timedelta(minutes=settings.EMERGENCY_ESCALATE_MINUTES)


# --- Who is told -------------------------------------------------------------------------


def on_call_reviewers() -> QuerySet[User]:
    """The active reviewers on the on-call list."""
    return User.objects.filter(
        pk__in=OnCallReviewer.objects.values("user_id"), role=Role.REVIEWER, is_active=True
    ).order_by("full_name", "pk")


def escalation_addresses() -> list[str]:
    """The on-call reviewers; every active reviewer while nobody is on call."""
    addresses = list(on_call_reviewers().values_list("email", flat=True))
    if not addresses:
        addresses = list(
            User.objects.filter(role=Role.REVIEWER, is_active=True).values_list("email", flat=True)
        )
    return sorted(addresses)


# --- Which requests ------------------------------------------------------------------------


def _unclaimed_emergencies() -> QuerySet[LegalRequest]:
    """Emergencies that no reviewer has taken: received, and nobody assigned."""
    assigned = ReviewState.objects.filter(request_id=OuterRef("pk"), assignee__isnull=False)
    return LegalRequest.objects.filter(emergency=True, status=LegalRequest.Status.RECEIVED).exclude(
        Exists(assigned)
    )


def _notices_sent(request: LegalRequest) -> int:
    return AuditEvent.objects.filter(
        action=ESCALATED, target_type=TARGET_TYPE, target_id=str(request.pk)
    ).count()


def next_notice_due(request: LegalRequest, sent: int) -> datetime:
    """The n-th notice is due n intervals after receipt."""
    return request.received_at + escalate_after() * (sent + 1)


# --- The notice to the paging system --------------------------------------------------------


def paging_body(request: LegalRequest, *, notice: int, now: datetime) -> dict[str, Any]:
    """What the paging system receives: which request waits, since when; nothing of its
    content (no agency, target or case)."""
    return {
        "event": PAGING_EVENT,
        "portal": settings.PORTAL_AUDIENCE,
        "reference": request.reference,
        "received_at": request.received_at.isoformat(),
        "notice": notice,
        "sent_at": now.isoformat(),
        "url": settings.PORTAL_AUDIENCE + reverse("review-request", args=[request.reference]),
    }


@dataclass(frozen=True)
class SignedNotice:
    body: bytes  # the RFC 8785 canonical JSON, exactly the bytes signed and sent
    headers: dict[str, str]


def paging_sign(body: dict[str, Any]) -> SignedNotice:
    """Canonicalise the body (RFC 8785) and sign those bytes with the portal's Ed25519 key,
    as receipts are: the paging system verifies with the key at /api/v1/portal-key."""
    canonical = rfc8785.dumps(body)
    signature = base64.b64encode(crypto.portal_sign(canonical)).decode("ascii")
    key_id = crypto.ed25519_key_id(crypto.portal_signing_key().public_key())
    return SignedNotice(
        body=canonical,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: f"ed25519={signature}",
            KEY_ID_HEADER: key_id,
        },
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The paging system's address is configured: a redirect elsewhere is not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class PagingRefused(Exception):
    """The paging system answered with an error status: tried again later."""


@shared_task(
    name="requests_app.review.escalation.paging_webhook",
    autoretry_for=(OSError, PagingRefused),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=False,
    max_retries=8,
)
def paging_webhook_task(body: dict[str, Any]) -> int:
    """POST one signed escalation notice to the paging system; retried on failure.

    The body is signed here, at sending, so a retry sends the same bytes with the same
    signature (Ed25519 is deterministic). Returns the HTTP status.
    """
    url = settings.PAGING_WEBHOOK_URL
    if not url:
        return 0
    if settings.PRODUCTION and urlsplit(url).scheme != "https":
        logger.error("PAGING_WEBHOOK_URL must be https in production; the notice was not sent")
        return 0
    signed = paging_sign(body)
    request = urllib.request.Request(  # noqa: S310  (a configured URL; https in production)
        url, data=signed.body, headers=signed.headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        raise PagingRefused(f"The paging system answered {refused.code}") from None


# --- The sweep -------------------------------------------------------------------------------


def escalation_record(*, request_id: int, now: datetime) -> dict[str, Any] | None:
    """Record one notice for an unclaimed emergency if one is due; return the paging body.

    Under the request's row lock, so two sweeps at once record (and send) one notice.
    """
    with transaction.atomic():
        request = (
            _unclaimed_emergencies().select_for_update(of=("self",)).filter(pk=request_id).first()
        )
        if request is None:
            return None
        sent = _notices_sent(request)
        if now < next_notice_due(request, sent):
            return None
        addresses = escalation_addresses()
        body = paging_body(request, notice=sent + 1, now=now)
        audit_append(
            action=ESCALATED,
            target=request,
            data={
                "reference": request.reference,
                "notice": sent + 1,
                "waiting_seconds": int((now - request.received_at).total_seconds()),
                "to": addresses,
                "paged": bool(settings.PAGING_WEBHOOK_URL),
            },
        )
        notify_on_commit(addresses, emergency_waiting())
        if settings.PAGING_WEBHOOK_URL:
            transaction.on_commit(lambda: paging_webhook_task.delay(body), robust=True)
    return body


def emergency_escalations_send(*, now: datetime | None = None) -> int:
    """Escalate every unclaimed emergency whose next notice is due; return how many."""
    now = now or timezone.now()
    candidates = _unclaimed_emergencies().filter(received_at__lte=now - escalate_after())
    sent = 0
    for request_id in candidates.order_by("received_at").values_list("pk", flat=True)[:500]:
        sent += escalation_record(request_id=request_id, now=now) is not None
    return sent


# --- What the reviewers' home page shows ------------------------------------------------------


@dataclass(frozen=True)
class EscalationNotice:
    request: LegalRequest
    notices: int
    last_at: datetime


def escalation_notices(*, user: User) -> list[EscalationNotice]:
    """The unclaimed emergencies that were escalated, with how often and when last."""
    if user.role != Role.REVIEWER or not user.is_active:
        raise Http404("No such page.")
    waiting = {r.pk: r for r in _unclaimed_emergencies().select_related("agency")}
    if not waiting:
        return []
    rows = (
        AuditEvent.objects.filter(
            action=ESCALATED, target_type=TARGET_TYPE, target_id__in=[str(pk) for pk in waiting]
        )
        .values("target_id")
        .annotate(notices=Count("pk"), last_at=Max("created_at"))
        .order_by("-last_at")
    )
    return [
        EscalationNotice(waiting[int(row["target_id"])], row["notices"], row["last_at"])
        for row in rows
    ]


# --- Keeping the on-call list ------------------------------------------------------------------


def _require_vetting_admin(user: User) -> None:
    if user.role != Role.VETTING_ADMIN or not user.is_active:
        raise OnCallRefused(gettext("Only a vetting administrator keeps the on-call list."))


def on_call_add(*, reviewer: User, by: User) -> OnCallReviewer:
    _require_vetting_admin(by)
    if reviewer.role != Role.REVIEWER or not reviewer.is_active:
        raise OnCallRefused(gettext("Only an active reviewer can be on call."))
    with transaction.atomic():
        entry, created = OnCallReviewer.objects.get_or_create(
            user=reviewer, defaults={"added_by": by}
        )
        if not created:
            raise OnCallRefused(gettext("This reviewer is already on call."))
        audit_append(
            actor=by,
            action=ON_CALL_ADDED,
            target=reviewer,
            data={"reviewer": reviewer.email},
        )
    return entry


def on_call_remove(*, reviewer_id: int, by: User) -> None:
    _require_vetting_admin(by)
    with transaction.atomic():
        entry = (
            OnCallReviewer.objects.select_for_update()
            .select_related("user")
            .filter(user_id=reviewer_id)
            .first()
        )
        if entry is None:
            raise OnCallRefused(gettext("This reviewer is not on call."))
        reviewer = entry.user
        entry.delete()
        audit_append(
            actor=by,
            action=ON_CALL_REMOVED,
            target=reviewer,
            data={"reviewer": reviewer.email},
        )
