"""Scheduled work of the portal package."""

import logging

from celery import shared_task

from .audit import audit_chain_verify

logger = logging.getLogger(__name__)


@shared_task(name="portal.tasks.audit_chain_verify")
def audit_chain_verify_task() -> dict[str, object]:
    """Verify the whole audit chain; log an error naming the first break."""
    report = audit_chain_verify()
    if not report.ok:
        logger.error(report.describe())
    return {
        "ok": report.ok,
        "events": report.events,
        "head": report.head_hash,
        "broken_seq": report.broken_seq,
        "reason": report.reason,
    }
