"""Scheduled work on requests: reminders and the user-notice sweep (run by Celery beat).

Thin tasks: each calls one service, which finds its own work and is safe to run twice
(the audit event of a reminder, and the one notice per request, are the marks).
"""

import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings

from requests_app.lifecycle.clocks import deadline_reminders_send, preservation_reminders_send
from requests_app.review.escalation import emergency_escalations_send, paging_sign
from requests_app.review.notices import user_notices_sweep

logger = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The paging system's address is configured: a redirect elsewhere is not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@shared_task(name="requests_app.review.tasks.deadline_reminders")
def deadline_reminders_task() -> int:
    """Remind reviewers of requests whose deadline is near or passed."""
    return deadline_reminders_send()


@shared_task(name="requests_app.review.tasks.preservation_reminders")
def preservation_reminders_task() -> int:
    """Remind officers of preservations that end within a week."""
    return preservation_reminders_send()


@shared_task(name="requests_app.review.tasks.user_notices_sweep")
def user_notices_sweep_task() -> int:
    """Put disclosed requests whose non-disclosure order lapsed (or had none) on the list."""
    return user_notices_sweep()


@shared_task(name="requests_app.review.tasks.emergency_escalations")
def emergency_escalations_task() -> int:
    """Tell the on-call reviewers of emergencies nobody claimed (every interval, until one)."""
    return emergency_escalations_send()


class PagingRefused(Exception):
    """The paging system answered with an error status: tried again later."""


@shared_task(
    name="requests_app.review.tasks.paging_webhook",
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
