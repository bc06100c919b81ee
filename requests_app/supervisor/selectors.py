"""Reads of an agency's requests for its supervisor: the supervisors' gate.

A supervisor answers for the agency's officers, so they see every request of the agency:
its reference, kind, state, clocks and decision, and the metadata of its sealed
responses. What a request asks about (targets, documents, the thread) stays with those
who need to know: the submitter and the colleagues they share it with. A request shared
with the supervisor (or one they submitted before they became supervisor) they read in
full and answer in its thread, as a delegate does (``lifecycle.access``).

A sealed response's content is the recipients' alone: a supervisor downloads the sealed
file only when it was sealed to one of their own active age recipients.

The agency is the wall: another agency's request or response is "not found" (404).
"""

from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404

from accounts.models import AgeRecipient, KeyStatus, Officer, Role
from requests_app.delivery.models import SealedResponse
from requests_app.lifecycle.access import RequestAccess, request_access_for_officer
from requests_app.lifecycle.models import LegalRequest, RequestShare
from requests_app.review.models import Decision


def _is_supervisor(supervisor: Officer) -> bool:
    return supervisor.user.role == Role.SUPERVISOR and supervisor.can_act


def _confirmed_decision(field: str) -> Subquery:
    return Subquery(
        Decision.objects.filter(request=OuterRef("pk"), state=Decision.State.CONFIRMED)
        .order_by("-confirmed_at", "-pk")
        .values(field)[:1]
    )


def _readable_by(supervisor: Officer) -> Q:
    """Requests the supervisor reads in full: shared with them, or submitted by them."""
    shared = RequestShare.objects.filter(
        request=OuterRef("pk"), officer_id=supervisor.pk, revoked_at__isnull=True
    )
    return Q(officer_id=supervisor.pk) | Q(Exists(shared))


def request_list_for_supervisor(*, supervisor: Officer) -> QuerySet[LegalRequest]:
    """Every request of the supervisor's agency, newest first, with its decision outcome
    (``decision_outcome``) and whether the supervisor reads it in full (``readable``)."""
    if not _is_supervisor(supervisor):
        return LegalRequest.objects.none()
    return (
        LegalRequest.objects.filter(agency_id=supervisor.agency_id)
        .select_related("officer__user", "review")
        .annotate(
            decision_outcome=_confirmed_decision("outcome"),
            readable=ExpressionWrapper(_readable_by(supervisor), output_field=BooleanField()),
        )
        .order_by("-received_at", "-pk")
    )


def readable(request: LegalRequest) -> bool:
    """Whether a request of ``request_list_for_supervisor`` is read in full (annotated)."""
    return bool(getattr(request, "readable", False))


def decision_outcome(request: LegalRequest) -> str:
    """The confirmed decision's outcome of a request of ``request_list_for_supervisor``."""
    return str(getattr(request, "decision_outcome", None) or "")


def request_counts_for_supervisor(*, supervisor: Officer) -> tuple[int, int]:
    """How many requests the agency has, and how many of them the supervisor reads in full."""
    if not _is_supervisor(supervisor):
        return 0, 0
    requests = LegalRequest.objects.filter(agency_id=supervisor.agency_id)
    return requests.count(), requests.filter(_readable_by(supervisor)).count()


@dataclass(frozen=True)
class SupervisedRequest:
    """A request of the supervisor's agency, and the delegate's access if it is shared."""

    request: LegalRequest
    supervisor: Officer
    access: RequestAccess | None

    @property
    def readable(self) -> bool:
        """Whether the supervisor reads what the request asks about, and may reply."""
        return self.access is not None


def request_for_supervisor(*, supervisor: Officer, reference: str) -> SupervisedRequest:
    """One request of the supervisor's agency; any other is "not found"."""
    request = (
        request_list_for_supervisor(supervisor=supervisor)
        .select_related("agency")
        .filter(reference=reference)
        .first()
    )
    if request is None:
        raise Http404
    try:
        access = request_access_for_officer(officer=supervisor, reference=reference)
    except Http404:
        access = None
    return SupervisedRequest(request=request, supervisor=supervisor, access=access)


def decision_for_supervisor(*, supervised: SupervisedRequest) -> Decision | None:
    """The decision the authority may read: the newest confirmed one, or ``None``."""
    return (
        Decision.objects.filter(request_id=supervised.request.pk, state=Decision.State.CONFIRMED)
        .select_related("confirmed_by")
        .order_by("-confirmed_at", "-pk")
        .first()
    )


def own_recipients(*, supervisor: Officer) -> set[str]:
    """The supervisor's own active age recipients (from before they were appointed)."""
    return set(
        AgeRecipient.objects.filter(officer_id=supervisor.pk, status=KeyStatus.ACTIVE).values_list(
            "recipient", flat=True
        )
    )


@dataclass(frozen=True)
class ResponseRow:
    sealed: SealedResponse
    openable: bool  # sealed to one of the supervisor's own recipients


def responses_for_supervisor(*, supervised: SupervisedRequest) -> list[ResponseRow]:
    """The metadata of a request's sealed responses, and which the supervisor may download."""
    mine = own_recipients(supervisor=supervised.supervisor)
    return [
        ResponseRow(sealed, bool(mine & set(sealed.recipients)))
        for sealed in SealedResponse.objects.filter(request_id=supervised.request.pk)
        .select_related("request")
        .order_by("-created_at", "-pk")
    ]


def sealed_response_get_for_supervisor(*, supervisor: Officer, response_id: int) -> SealedResponse:
    """A sealed response of the agency that was sealed to one of the supervisor's own
    recipients; any other (another agency's, or sealed to others) is "not found"."""
    if not _is_supervisor(supervisor):
        raise Http404
    sealed = (
        SealedResponse.objects.select_related("request")
        .filter(pk=response_id, request__agency_id=supervisor.agency_id)
        .first()
    )
    if sealed is None or not own_recipients(supervisor=supervisor) & set(sealed.recipients):
        raise Http404
    return sealed
