"""Scheduled work of the portal package: the audit log's sequencer, checks and witnesses."""

import json
import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.translation import gettext as _

from .audit import audit_verify

logger = logging.getLogger(__name__)


# Not retried: beat runs it again within seconds, and a retry would only queue up behind.
@shared_task(name="portal.tasks.audit_sequence", autoretry_for=(), max_retries=0)
def audit_sequence_task() -> dict[str, object]:
    """Sequence committed events, sign a tree head, publish it when due (beat, seconds)."""
    from .sequencer import audit_sequence

    result = audit_sequence()
    return {
        "appended": result.appended,
        "tree_size": result.tree_size,
        "published": result.published.tree_size if result.published else None,
        "publish_error": result.publish_error,
    }


@shared_task(name="portal.tasks.audit_chain_verify")
def audit_chain_verify_task() -> dict[str, object]:
    """Verify the whole audit log; log an error naming what is wrong."""
    report = audit_verify()
    if not report.ok:
        logger.error(report.describe())
    return {
        "ok": report.ok,
        "events": report.events,
        "tree_size": report.tree_size,
        "problems": report.problems,
    }


def _head_json(tree_size: int) -> bytes:
    from .audit_tree import head_of_size
    from .tree_heads import head_document

    head = head_of_size(tree_size)
    if head is None:
        raise LookupError(f"there is no tree head of size {tree_size}")
    return json.dumps(head_document(head), indent=2).encode("utf-8")


@shared_task(name="portal.tasks.audit_witness_webhook")
def audit_witness_webhook(url: str, tree_size: int) -> None:
    """POST a signed tree head (JSON) to a witness; retried with backoff on failure.

    Only to an address of AUDIT_WITNESS_WEBHOOKS: a task message that names another
    (a broker written by someone else) is refused, so the broker cannot aim the
    workers at arbitrary addresses.
    """
    from .tree_heads import _http_post

    if url not in settings.AUDIT_WITNESS_WEBHOOKS:
        logger.error("refused to send a tree head to %s: not a configured witness", url)
        return
    _http_post(url, _head_json(tree_size), "application/json")


@shared_task(name="portal.tasks.audit_witness_email")
def audit_witness_email(tree_size: int) -> None:
    """Mail a signed tree head to the witnesses of AUDIT_WITNESS_EMAILS."""
    body = _head_json(tree_size).decode("utf-8")
    EmailMessage(
        subject=_("Audit log tree head, size %(size)s") % {"size": tree_size},
        body=_(
            "The authority portal's audit log has a new signed tree head. Keep it: a "
            "later head must be consistent with it (docs/audit-log.md explains how to "
            "check).\n\n%(head)s\n"
        )
        % {"head": body},
        to=list(settings.AUDIT_WITNESS_EMAILS),
    ).send()
