"""The one door between review and delivery: a confirmed approval is handed over here.

Review calls these functions and imports nothing else of delivery (a contract in
`.importlinter`). The hand-over runs in the reviewer's transaction, so the disclosure
exists exactly when the decision's transition does; sealing is queued after commit, and a
sweeper (`disclosures_seal_pending`) re-queues any disclosure a broker outage left pending.
"""

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from accounts.models import User
from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.models import LegalRequest

if TYPE_CHECKING:  # review sits above delivery: a type only, never a runtime import
    from requests_app.review.models import Decision


def disclosure_hand_over(
    *, request: LegalRequest, decision: "Decision", reviewer: User, note: str
) -> Disclosure:
    """Record what delivery must seal for `decision`, and queue the sealing after commit."""
    from requests_app.delivery.tasks import disclosure_seal

    disclosure = Disclosure.objects.create(
        request=request, decision=decision, created_by=reviewer, note_to_authority=note
    )
    disclosure_seal.delay(disclosure.pk)
    return disclosure


def decision_handed_over(decision: "Decision") -> bool:
    return Disclosure.objects.filter(decision=decision).exists()


def sealing_pending(request: LegalRequest) -> bool:
    """Whether a response of `request` is still being sealed."""
    return Disclosure.objects.filter(request=request, state=Disclosure.State.PENDING).exists()


def disclosures_of(request: LegalRequest) -> QuerySet[Disclosure]:
    """The request's hand-overs, oldest first, with who made them."""
    return Disclosure.objects.filter(request=request).select_related("created_by").order_by("pk")
