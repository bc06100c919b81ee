"""The officer's reads that need other stages' records: what the authority may see of a
decision, and what waits for the officer (the home page)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import KeyStatus, Officer
from accounts.services.keys import (
    age_recipients_of_officer,
    signing_keys_of_officer,
    signing_passkeys_of_officer,
)
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.selectors import sealed_response_list_for_officer
from requests_app.lifecycle.access import RequestAccess, request_list_for_officer
from requests_app.lifecycle.clocks import (
    DUE_SOON,
    PRESERVATION_ENDED_STATES,
    RequestClocks,
    request_clocks,
)
from requests_app.lifecycle.models import LegalRequest, RequestKind
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


# --- The officer's home page -------------------------------------------------------------


@dataclass(frozen=True)
class ClockedRequest:
    request: LegalRequest
    clocks: RequestClocks


@dataclass(frozen=True)
class PendingKey:
    kind: str  # words for the page
    label: str  # the key's identifier or name
    created_at: datetime


@dataclass(frozen=True)
class OfficerHome:
    """What waits for an officer: each list complete (they are short), each row a link."""

    waiting: list[ClockedRequest]  # awaiting clarification: the officer's answer
    responses: list[SealedResponse]  # available, not downloaded yet
    keys: list[PendingKey]
    due_soon: list[ClockedRequest]  # the platform's deadline within 48 hours, or past
    preservations_ending: list[ClockedRequest]

    @property
    def due_count(self) -> int:
        return len(self.due_soon) + len(self.preservations_ending)

    @property
    def empty(self) -> bool:
        return not (self.waiting or self.responses or self.keys or self.due_count)


def officer_home(*, officer: Officer, now: datetime | None = None) -> OfficerHome:
    """The officer's work list, read through the same gates as their list pages.

    The counts are those of the pages the rows link to: "waiting for your answer" is the
    request list's banner, the responses are rows of the responses page, the keys rows of
    the keys page, and the clocks are ``lifecycle.clocks``' (the list's badges).
    """
    now = now or timezone.now()
    mine = request_list_for_officer(officer=officer).select_related("review")

    def clocked(rows: QuerySet[LegalRequest]) -> list[ClockedRequest]:
        return [ClockedRequest(r, request_clocks(r, now=now)) for r in rows]

    waiting = mine.filter(status=LegalRequest.Status.AWAITING_CLARIFICATION).order_by(
        "review__paused_since", "pk"
    )
    due_soon = mine.filter(
        status__in=(LegalRequest.Status.RECEIVED, LegalRequest.Status.IN_REVIEW),
        due_at__lte=now + DUE_SOON,
    ).order_by("due_at", "pk")
    preservations = [
        item
        for item in clocked(
            mine.filter(kind=RequestKind.PRESERVATION)
            .exclude(status__in=PRESERVATION_ENDED_STATES)
            .order_by("received_at", "pk")
        )
        if item.clocks.preservation is not None and item.clocks.preservation.ending_soon
    ]
    responses = [
        sealed
        for sealed in sealed_response_list_for_officer(officer=officer).filter(
            download_count=0, purged_at__isnull=True, expires_at__gt=now
        )
    ]
    keys = [
        PendingKey(gettext("Signing key"), key.key_id, key.created_at)
        for key in signing_keys_of_officer(officer=officer).filter(status=KeyStatus.PENDING)
    ]
    keys += [
        PendingKey(gettext("Passkey"), key.public_key_sha256, key.created_at)
        for key in signing_passkeys_of_officer(officer=officer).filter(status=KeyStatus.PENDING)
    ]
    keys += [
        PendingKey(gettext("Age recipient"), key.recipient, key.created_at)
        for key in age_recipients_of_officer(officer=officer).filter(status=KeyStatus.PENDING)
    ]
    return OfficerHome(
        waiting=clocked(waiting),
        responses=responses,
        keys=sorted(keys, key=lambda k: k.created_at),
        due_soon=clocked(due_soon),
        preservations_ending=preservations,
    )
