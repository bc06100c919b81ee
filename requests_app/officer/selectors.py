"""The officer's reads that need review's records: what the authority may see of a decision."""

from requests_app.lifecycle.access import RequestAccess
from requests_app.review.models import Decision


def decision_for_officer(*, access: RequestAccess) -> Decision | None:
    """The decision the authority may read: the newest confirmed one, or ``None``.

    A proposal waiting for a second reviewer, or one set aside, is internal.
    """
    return (
        Decision.objects.filter(request_id=access.request.pk, state=Decision.State.CONFIRMED)
        .order_by("-confirmed_at", "-pk")
        .first()
    )
