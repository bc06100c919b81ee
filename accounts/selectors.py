"""Reads that carry a permission decision or a vetting rule.

The vetting pages and the vetting services read through here, so that what a page
shows as "ready to approve" is the same check the service enforces when it decides.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Max, QuerySet
from django.http import Http404

from portal.models import AuditEvent

from .domains import DomainError, email_on_agency_domain, unconfirmed_proposal
from .models import (
    Agency,
    AgencyDomain,
    AgeRecipient,
    CallbackCheck,
    KeyStatus,
    Officer,
    Role,
    SigningKey,
    SigningPasskey,
    User,
)
from .services.factors import FactorSummary, factor_summary

CALLBACK_NUMBER_CHANGED = "agency.callback_number_changed"


def _require_vetting_admin(user: User) -> None:
    """Refuse anyone but a vetting administrator; the views check this too."""
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN:
        raise PermissionDenied


# --- The queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class VettingQueue:
    agencies: list[Agency]
    officers: list[Officer]
    signing_keys: list[SigningKey]
    signing_passkeys: list[SigningPasskey]
    age_recipients: list[AgeRecipient]

    @property
    def total(self) -> int:
        return (
            len(self.agencies)
            + len(self.officers)
            + len(self.signing_keys)
            + len(self.signing_passkeys)
            + len(self.age_recipients)
        )


def vetting_queue(*, user: User) -> VettingQueue:
    """Return everything waiting for a vetting decision, oldest first.

    A proposed agency waits only once someone at it has confirmed their mailbox: before
    that it is a claim anyone could have typed (``accounts.domains.unconfirmed_proposal``).
    """
    _require_vetting_admin(user)
    return VettingQueue(
        agencies=list(
            Agency.objects.filter(status=Agency.Status.PENDING)
            .exclude(unconfirmed_proposal())
            .select_related("proposed_by")
            .order_by("created_at", "pk")
        ),
        officers=list(
            Officer.objects.filter(status=Officer.Status.PENDING)
            .select_related("user", "agency")
            .order_by("created_at", "pk")
        ),
        signing_keys=list(
            SigningKey.objects.filter(status=KeyStatus.PENDING)
            .select_related("officer__user", "officer__agency")
            .order_by("created_at", "pk")
        ),
        signing_passkeys=list(
            SigningPasskey.objects.filter(status=KeyStatus.PENDING)
            .select_related("officer__user", "officer__agency")
            .order_by("created_at", "pk")
        ),
        age_recipients=list(
            AgeRecipient.objects.filter(status=KeyStatus.PENDING)
            .select_related("officer__user", "officer__agency", "agency")
            .order_by("created_at", "pk")
        ),
    )


# --- One object, for a vetting administrator -------------------------------------------


def agency_get_for_vetting(*, user: User, agency_id: int) -> Agency:
    _require_vetting_admin(user)
    agency = Agency.objects.select_related("proposed_by", "verified_by").filter(pk=agency_id)
    found = agency.first()
    if found is None:
        raise Http404("No such agency.")
    return found


def officer_get_for_vetting(*, user: User, officer_id: int) -> Officer:
    _require_vetting_admin(user)
    found = (
        Officer.objects.select_related("user", "agency", "vetted_by").filter(pk=officer_id).first()
    )
    if found is None:
        raise Http404("No such officer.")
    return found


def signing_key_get_for_vetting(*, user: User, key_id: int) -> SigningKey:
    _require_vetting_admin(user)
    found = (
        SigningKey.objects.select_related(
            "officer__user", "officer__agency", "decided_by", "revoked_by"
        )
        .filter(pk=key_id)
        .first()
    )
    if found is None:
        raise Http404("No such signing key.")
    return found


def signing_passkey_get_for_vetting(*, user: User, key_id: int) -> SigningPasskey:
    _require_vetting_admin(user)
    found = (
        SigningPasskey.objects.select_related(
            "officer__user", "officer__agency", "decided_by", "revoked_by", "credential"
        )
        .filter(pk=key_id)
        .first()
    )
    if found is None:
        raise Http404("No such passkey.")
    return found


def age_recipient_get_for_vetting(*, user: User, recipient_id: int) -> AgeRecipient:
    _require_vetting_admin(user)
    found = (
        AgeRecipient.objects.select_related(
            "officer__user", "officer__agency", "agency", "decided_by", "revoked_by"
        )
        .filter(pk=recipient_id)
        .first()
    )
    if found is None:
        raise Http404("No such age recipient.")
    return found


# --- The callback rule -----------------------------------------------------------------


def callback_number_changed_at(*, agency: Agency) -> datetime | None:
    """Return when the number on file was last changed through the portal, or ``None``.

    The audit chain is the record of changes: the portal has no other copy of it.
    """
    return AuditEvent.objects.filter(
        action=CALLBACK_NUMBER_CHANGED,
        target_type=Agency._meta.label_lower,
        target_id=str(agency.pk),
    ).aggregate(at=Max("created_at"))["at"]


def callbacks_counting(*, agency: Agency) -> QuerySet[CallbackCheck]:
    """Return the agency's callbacks that count for a decision.

    Only a call to the number on file now counts, and only if it was made after that
    number was last set: a changed number voids every earlier call, even a later change
    back to an old number (an attacker who gets the number changed must not inherit the
    calls made to the real one).
    """
    calls = agency.callbacks.filter(number_called=agency.callback_phone)
    changed_at = callback_number_changed_at(agency=agency)
    if changed_at is not None:
        calls = calls.filter(called_at__gt=changed_at)
    return calls


def confirmed_callback(*, agency: Agency, officer: Officer | None = None) -> CallbackCheck | None:
    """Return the newest confirmed callback that counts (about ``officer`` if given)."""
    calls = callbacks_counting(agency=agency).filter(outcome=CallbackCheck.Outcome.CONFIRMED)
    if officer is not None:
        calls = calls.filter(officer=officer)
    return calls.order_by("-called_at", "-pk").first()


# --- What stands between an object and approval ----------------------------------------


def agency_verification_problems(*, agency: Agency) -> list[str]:
    """Return why the agency cannot be verified (or reinstated) now; empty if it can."""
    problems = []
    if not agency.callback_phone:
        problems.append("The agency has no callback number on file.")
    elif confirmed_callback(agency=agency) is None:
        problems.append(
            f"No confirmed callback to the number on file ({agency.callback_phone}) "
            "has been recorded since it was set."
        )
    if not agency.domains.exists():
        problems.append("The agency has no official email domain.")
    if Agency.objects.filter(unconfirmed_proposal(), pk=agency.pk).exists():
        problems.append(
            "Nobody at the agency has confirmed a mailbox yet: the proposal is only a claim "
            "typed into the registration form."
        )
    return problems


@dataclass(frozen=True)
class DomainMatch:
    domain: AgencyDomain | None
    problem: str


def officer_domain_match(*, officer: Officer) -> DomainMatch:
    """Return the agency domain the officer's email is on, or why there is none."""
    try:
        domain = email_on_agency_domain(officer.user.email, list(officer.agency.domains.all()))
    except DomainError as exc:
        return DomainMatch(None, str(exc))
    if domain is None:
        return DomainMatch(None, "The email address is on none of the agency's domains.")
    return DomainMatch(domain, "")


def officer_approval_problems(*, officer: Officer) -> list[str]:
    """Return why the officer cannot be approved (or reinstated) now; empty if they can."""
    problems = []
    user = officer.user
    if not user.is_active:
        problems.append("The user account is deactivated.")
    if officer.email_verified_at is None:
        problems.append("The officer has not verified their mailbox.")
    if officer_domain_match(officer=officer).domain is None:
        problems.append("The officer's email address is not on one of the agency's domains.")
    if not factor_summary(user=user).complete_for(user):
        problems.append("The officer has not enrolled both a passkey and an authenticator app.")
    if officer.agency.status != Agency.Status.VERIFIED:
        problems.append(
            f"The agency is not verified (it is {officer.agency.get_status_display().lower()})."
        )
    if confirmed_callback(agency=officer.agency, officer=officer) is None:
        problems.append(
            "No confirmed callback about this officer to the agency's number on file "
            "has been recorded."
        )
    return problems


def key_owner_problems(*, officer: Officer | None, agency: Agency | None) -> list[str]:
    """Return why a key of this owner cannot be approved: only keys that could count."""
    problems = []
    if officer is not None:
        agency = officer.agency
        if officer.status != Officer.Status.ACTIVE or not officer.user.is_active:
            problems.append(
                f"The officer is not active (they are {officer.get_status_display().lower()})."
            )
    if agency is None:
        problems.append("The key has no owner.")
    elif agency.status != Agency.Status.VERIFIED:
        problems.append(
            f"The agency is not verified (it is {agency.get_status_display().lower()})."
        )
    return problems


# --- Evidence pages --------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyEvidence:
    domains: list[AgencyDomain]
    officers: list[Officer]
    callbacks: list[CallbackCheck]
    counting_callback_ids: frozenset[int]
    number_changed_at: datetime | None
    recipients: list[AgeRecipient]
    problems: list[str]


def agency_evidence(*, agency: Agency) -> AgencyEvidence:
    """Gather what a vetting administrator needs to decide about an agency."""
    return AgencyEvidence(
        domains=list(agency.domains.all()),
        officers=list(agency.officers.select_related("user").order_by("created_at", "pk")),
        callbacks=list(
            agency.callbacks.select_related("called_by", "officer__user").order_by(
                "-called_at", "-pk"
            )
        ),
        counting_callback_ids=frozenset(
            callbacks_counting(agency=agency).values_list("pk", flat=True)
        ),
        number_changed_at=callback_number_changed_at(agency=agency),
        recipients=list(agency.recipients.order_by("-created_at")),
        problems=agency_verification_problems(agency=agency),
    )


@dataclass(frozen=True)
class OfficerEvidence:
    domain_match: DomainMatch
    factors: FactorSummary
    factors_complete: bool
    callbacks: list[CallbackCheck]
    counting_callback_ids: frozenset[int]
    signing_keys: list[SigningKey]
    signing_passkeys: list[SigningPasskey]
    recipients: list[AgeRecipient]
    problems: list[str]


def officer_evidence(*, officer: Officer) -> OfficerEvidence:
    """Gather what a vetting administrator needs to decide about an officer."""
    summary = factor_summary(user=officer.user)
    return OfficerEvidence(
        domain_match=officer_domain_match(officer=officer),
        factors=summary,
        factors_complete=summary.complete_for(officer.user),
        callbacks=list(officer.callbacks.select_related("called_by").order_by("-called_at", "-pk")),
        counting_callback_ids=frozenset(
            callbacks_counting(agency=officer.agency)
            .filter(officer=officer)
            .values_list("pk", flat=True)
        ),
        signing_keys=list(officer.signing_keys.order_by("-created_at")),
        signing_passkeys=list(officer.signing_passkeys.order_by("-created_at")),
        recipients=list(officer.recipients.order_by("-created_at")),
        problems=officer_approval_problems(officer=officer),
    )


# --- Which passkeys may sign -------------------------------------------------------------


def signing_passkeys_active(*, officer: Officer) -> QuerySet[SigningPasskey]:
    """The officer's passkeys that may sign web submissions: approved and still registered."""
    return SigningPasskey.objects.filter(
        officer=officer,
        status=KeyStatus.ACTIVE,
        credential__isnull=False,
        credential__confirmed=True,
        credential__user_id=officer.user_id,
    ).select_related("credential")


def signing_passkeys_waiting(*, officer: Officer) -> QuerySet[SigningPasskey]:
    """The officer's registered passkeys still waiting for an administrator's approval."""
    return SigningPasskey.objects.filter(
        officer=officer, status=KeyStatus.PENDING, credential__isnull=False
    )


def officer_of(user: User | AnonymousUser | None) -> Officer | None:
    """The officer record of a user, with its agency, or ``None``."""
    if user is None or not getattr(user, "is_authenticated", False) or user.pk is None:
        return None
    return Officer.objects.select_related("agency", "user").filter(user_id=user.pk).first()


def recipients_for_officer(*, officer_id: int, agency_id: int) -> list[str]:
    """Every active age recipient of an officer and the agency's designated ones."""
    found = AgeRecipient.objects.filter(status=KeyStatus.ACTIVE).filter(
        officer_id=officer_id
    ) | AgeRecipient.objects.filter(status=KeyStatus.ACTIVE, agency_id=agency_id)
    return sorted({r.recipient for r in found})


# --- The vetting administrator's home page ---------------------------------------------


@dataclass(frozen=True)
class CallToMake:
    """An agency to call on its number on file, and what the call is for."""

    agency: Agency
    reasons: list[str]
    link: tuple[str, int]  # (url name, id) of the page where the call is recorded


@dataclass(frozen=True)
class VettingHome:
    queue: VettingQueue
    calls: list[CallToMake]

    @property
    def keys(self) -> int:
        return (
            len(self.queue.signing_keys)
            + len(self.queue.signing_passkeys)
            + len(self.queue.age_recipients)
        )


def vetting_home(*, user: User) -> VettingHome:
    """What waits for a vetting administrator: the vetting queue itself (so the counts are
    the queue's), and the callbacks to make, one per agency.

    A call is owed for a waiting agency or officer that no confirmed callback that counts
    (``callbacks_counting``) covers yet, and for every waiting key, whose fingerprint is
    read on a call before it is approved.
    """
    from django.utils.translation import gettext

    queue = vetting_queue(user=user)
    calls: dict[int, CallToMake] = {}

    def owe(agency: Agency, reason: str, link: tuple[str, int]) -> None:
        call = calls.setdefault(agency.pk, CallToMake(agency=agency, reasons=[], link=link))
        call.reasons.append(reason)

    for agency in queue.agencies:
        if confirmed_callback(agency=agency) is None:
            owe(agency, gettext("verify the agency"), ("vetting-agency", agency.pk))
    for officer in queue.officers:
        if confirmed_callback(agency=officer.agency, officer=officer) is None:
            owe(
                officer.agency,
                gettext("confirm the officer %(name)s") % {"name": officer.user.full_name},
                ("vetting-officer", officer.pk),
            )
    keys: list[SigningKey | SigningPasskey | AgeRecipient] = [
        *queue.signing_keys,
        *queue.signing_passkeys,
        *queue.age_recipients,
    ]
    for key in keys:
        owner: Officer | None = key.officer
        holder: Agency | None = owner.agency if owner is not None else getattr(key, "agency", None)
        if holder is None:
            continue
        who = owner.user.full_name if owner is not None else holder.name
        owe(
            holder,
            gettext("read the fingerprint of a key of %(name)s") % {"name": who},
            ("vetting-agency", holder.pk),
        )
    return VettingHome(queue=queue, calls=list(calls.values()))
