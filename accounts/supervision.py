"""What an agency supervisor may reach: their agency's officers, keys and tokens. The gate.

A supervisor is a user with ``Role.SUPERVISOR`` whose ``Officer`` row (the agency side,
vetted like an officer) is active in a verified agency. Everything here is cut to that
agency: an officer, key or token of another agency is "not found" (404), never
"forbidden", so an id says nothing about whether it exists. Reading is all this module
does; the acts are in ``accounts.services.supervision``.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Q, QuerySet
from django.http import Http404

from portal.models import AuditEvent

from .models import AgeRecipient, ApiToken, Officer, Role, SigningKey, SigningPasskey, User

if TYPE_CHECKING:
    from .access import AuthedRequest

# The officer states a supervisor sees: a registration whose mailbox is not confirmed is
# still a claim anyone could have typed (accounts.services.unconfirmed), and is not shown.
VISIBLE_STATES = (
    Officer.Status.PENDING,
    Officer.Status.ACTIVE,
    Officer.Status.SUSPENDED,
    Officer.Status.REJECTED,
)
REINSTATEMENT_REQUESTED = "officer.reinstatement_requested"
SUSPENDED = "officer.suspended"


def supervisor_of(user: User | Any) -> Officer | None:
    """The agency record of an active supervisor, or ``None`` for anyone else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if user.role != Role.SUPERVISOR:
        return None
    record = Officer.objects.select_related("agency", "user").filter(user_id=user.pk).first()
    if record is None or not record.can_act:
        return None
    return record


def page_supervisor(request: "AuthedRequest") -> Officer:
    """The supervisor behind a page: pages wear ``role_required(Role.SUPERVISOR)``, so a
    missing or inactive record (which the standing middleware stops first) is a 403."""
    if not request.user.is_verified():
        raise PermissionDenied
    record = supervisor_of(request.user)
    if record is None:
        raise PermissionDenied
    return record


# --- Officers --------------------------------------------------------------------------------


def agency_officers(*, supervisor: Officer) -> QuerySet[Officer]:
    """The officers of the supervisor's agency (not its supervisors), by name."""
    return (
        Officer.objects.filter(
            agency_id=supervisor.agency_id, user__role=Role.OFFICER, status__in=VISIBLE_STATES
        )
        .select_related("user", "agency")
        .order_by("user__full_name", "pk")
    )


def officer_get_for_supervisor(*, supervisor: Officer, officer_id: int) -> Officer:
    """One officer of the supervisor's agency; anyone else is "not found"."""
    found = agency_officers(supervisor=supervisor).filter(pk=officer_id).first()
    if found is None:
        raise Http404
    return found


def vouched_ids(*, supervisor: Officer) -> set[int]:
    """The officers this supervisor has vouched for."""
    return set(supervisor.vouches_given.values_list("officer_id", flat=True))


def last_event_at(*, officer: Officer, action: str) -> datetime | None:
    found: datetime | None = AuditEvent.objects.filter(
        action=action, target_type=Officer._meta.label_lower, target_id=str(officer.pk)
    ).aggregate(at=Max("created_at"))["at"]
    return found


def reinstatement_asked_at(*, officer: Officer) -> datetime | None:
    """When a supervisor last asked to reinstate this suspended officer, since the suspension."""
    if officer.status != Officer.Status.SUSPENDED:
        return None
    asked = last_event_at(officer=officer, action=REINSTATEMENT_REQUESTED)
    suspended = last_event_at(officer=officer, action=SUSPENDED)
    if asked is None or (suspended is not None and asked < suspended):
        return None
    return asked


# --- Keys and tokens -------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyKeys:
    signing_keys: list[SigningKey]
    signing_passkeys: list[SigningPasskey]
    recipients: list[AgeRecipient]
    tokens: list[ApiToken]


def _of_agency(supervisor: Officer) -> Q:
    return Q(officer__agency_id=supervisor.agency_id)


def agency_signing_keys(*, supervisor: Officer) -> QuerySet[SigningKey]:
    return SigningKey.objects.filter(_of_agency(supervisor)).select_related(
        "officer__user", "revoked_by"
    )


def agency_signing_passkeys(*, supervisor: Officer) -> QuerySet[SigningPasskey]:
    return SigningPasskey.objects.filter(_of_agency(supervisor)).select_related(
        "officer__user", "revoked_by"
    )


def agency_recipients(*, supervisor: Officer) -> QuerySet[AgeRecipient]:
    """The recipients of the agency's officers and supervisors, and the agency's own."""
    return AgeRecipient.objects.filter(
        _of_agency(supervisor) | Q(agency_id=supervisor.agency_id)
    ).select_related("officer__user", "agency", "revoked_by")


def agency_tokens(*, supervisor: Officer) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(_of_agency(supervisor)).select_related(
        "officer__user", "revoked_by"
    )


def agency_keys(*, supervisor: Officer) -> AgencyKeys:
    """Every key and token of the agency, newest first: what a supervisor may revoke."""
    order = ("-created_at", "-pk")
    return AgencyKeys(
        signing_keys=list(agency_signing_keys(supervisor=supervisor).order_by(*order)),
        signing_passkeys=list(agency_signing_passkeys(supervisor=supervisor).order_by(*order)),
        recipients=list(agency_recipients(supervisor=supervisor).order_by(*order)),
        tokens=list(agency_tokens(supervisor=supervisor).order_by(*order)),
    )


AnyKey = SigningKey | SigningPasskey | AgeRecipient


def key_get_for_supervisor(*, supervisor: Officer, model: type[AnyKey], key_id: int) -> AnyKey:
    """One key of the supervisor's agency; any other is "not found"."""
    found: AnyKey | None
    if model is SigningKey:
        found = agency_signing_keys(supervisor=supervisor).filter(pk=key_id).first()
    elif model is SigningPasskey:
        found = agency_signing_passkeys(supervisor=supervisor).filter(pk=key_id).first()
    else:
        found = agency_recipients(supervisor=supervisor).filter(pk=key_id).first()
    if found is None:
        raise Http404
    return found


def token_get_for_supervisor(*, supervisor: Officer, token_id: int) -> ApiToken:
    """One API token of the supervisor's agency; any other is "not found"."""
    found = agency_tokens(supervisor=supervisor).filter(pk=token_id).first()
    if found is None:
        raise Http404
    return found
