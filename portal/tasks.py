"""Scheduled work of the portal package: the audit log's sequencer, checks and witnesses."""

import logging

from celery import shared_task

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


# The witnesses' tasks live beside the publication that queues them (tree_heads), so that
# neither module imports the other; registered here too for the worker's discovery.
from .tree_heads import audit_witness_email, audit_witness_webhook  # noqa: E402, F401
