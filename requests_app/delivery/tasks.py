"""Delivery tasks: thin, idempotent, retried with backoff (portal.celery.PortalTask)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.delivery.orphans import orphan_files_purge
from requests_app.delivery.sealing import response_seal, sealed_response_purge


@shared_task(name="requests_app.delivery.seal")
def disclosure_seal(disclosure_id: int) -> int | None:
    sealed = response_seal(disclosure_id=disclosure_id)
    return sealed.pk if sealed else None


@shared_task(name="requests_app.delivery.seal_pending")
def disclosures_seal_pending() -> int:
    """Enqueue every disclosure still pending (one recorded while the broker was down)."""
    cutoff = timezone.now() - timedelta(minutes=1)
    pending = list(
        Disclosure.objects.filter(
            state=Disclosure.State.PENDING, created_at__lte=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for pk in pending:
        disclosure_seal.delay(pk)
    return len(pending)


@shared_task(name="requests_app.delivery.purge_expired")
def sealed_responses_purge() -> int:
    expired = SealedResponse.objects.filter(purged_at__isnull=True, expires_at__lte=timezone.now())
    count = 0
    for sealed in expired[:1000]:
        sealed_response_purge(sealed=sealed)
        count += 1
    return count


@shared_task(name="requests_app.delivery.purge_orphans")
def orphan_files_sweep() -> int:
    """Delete stored files an interrupted write left without their row (orphans.py)."""
    return sum(len(paths) for paths in orphan_files_purge().values())
