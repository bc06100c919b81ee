"""Reads that carry a permission decision or a vetting rule.

The vetting pages and the vetting services read through here, so that what a page
shows as "ready to approve" is the same check the service enforces when it decides.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Max, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from portal.models import AuditEvent

from .domains import DomainError, email_on_agency_domain, unconfirmed_proposal
from .models import (
    Agency,
    AgencyDomain,
    AgeRecipient,
    CallbackCheck,
    KeyStatus,
    Officer,
    OfficerVouch,
    Role,
    SigningKey,
    SigningPasskey,
    User,
)
from .phones import international
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
    supervisor_proposals: list[Officer]

    @property
    def total(self) -> int:
        return (
            len(self.agencies)
            + len(self.officers)
            + len(self.signing_keys)
            + len(self.signing_passkeys)
            + len(self.age_recipients)
            + len(self.supervisor_proposals)
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
            .annotate(vouched=Exists(OfficerVouch.objects.filter(officer=OuterRef("pk"))))
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
        supervisor_proposals=list(
            Officer.objects.filter(
                supervisor_proposed_at__isnull=False,
                user__role=Role.OFFICER,
                status=Officer.Status.ACTIVE,
            )
            .select_related("user", "agency")
            .order_by("supervisor_proposed_at", "pk")
        ),
    )


# --- One object, for a vetting administrator -------------------------------------------


def agency_get_for_vetting(*, user: User, agency_id: int) -> Agency:
    _require_vetting_admin(user)
    agency = Agency.objects.select_related("proposed_by", "verified_by").filter(pk=agency_id)
    found = agency.first()
    if found is None:
        raise Http404(gettext("No such agency."))
    return found


def officer_get_for_vetting(*, user: User, officer_id: int) -> Officer:
    _require_vetting_admin(user)
    found = (
        Officer.objects.select_related("user", "agency", "vetted_by").filter(pk=officer_id).first()
    )
    if found is None:
        raise Http404(gettext("No such officer."))
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
        raise Http404(gettext("No such signing key."))
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
        raise Http404(gettext("No such passkey."))
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
        raise Http404(gettext("No such age recipient."))
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


def confirmed_callback(
    *, agency: Agency, officer: Officer | None = None, sourced: bool = False
) -> CallbackCheck | None:
    """Return the newest confirmed callback that counts (about ``officer`` if given).

    ``sourced``: only a call that says where its number was found independently.
    """
    calls = callbacks_counting(agency=agency).filter(outcome=CallbackCheck.Outcome.CONFIRMED)
    if officer is not None:
        calls = calls.filter(officer=officer)
    if sourced:
        calls = calls.exclude(number_source="")
    return calls.order_by("-called_at", "-pk").first()


# --- A supervisor's vouch ---------------------------------------------------------------


def vouch_problem(*, vouch: OfficerVouch, now: datetime | None = None) -> str | None:
    """Say why a supervisor's vouch does not stand in for the officer's callback, or ``None``.

    It does only while its author is an active supervisor of the officer's agency whose
    own confirmed callback (to the number on file, still counting) is younger than
    ``SUPERVISOR_VOUCH_CALLBACK_DAYS``: the platform's trust in the vouch is the trust it
    placed in the supervisor, and that fades.
    """
    now = now or timezone.now()
    supervisor = vouch.supervisor
    if supervisor.user.role != Role.SUPERVISOR or supervisor.agency_id != vouch.officer.agency_id:
        return _("Its author is no longer a supervisor of this agency.")
    if not supervisor.can_act:
        return _("Its author is not an active supervisor now.")
    callback = confirmed_callback(agency=supervisor.agency, officer=supervisor)
    days = settings.SUPERVISOR_VOUCH_CALLBACK_DAYS
    if callback is None:
        return _("There is no confirmed callback about the supervisor to the number on file.")
    if callback.called_at <= now - timedelta(days=days):
        return _(
            "The supervisor's last confirmed callback (%(date)s) is more than %(days)d days "
            "old: call the agency about the supervisor again."
        ) % {"date": f"{callback.called_at:%Y-%m-%d}", "days": days}
    return None


def vouches_for(*, officer: Officer) -> list[OfficerVouch]:
    """The vouches for an officer, newest first, with who gave them."""
    return list(
        officer.vouches.select_related(
            "supervisor__user", "supervisor__agency", "officer"
        ).order_by("-vouched_at", "-pk")
    )


def vouch_counting(*, officer: Officer) -> OfficerVouch | None:
    """The newest vouch that replaces the officer's own callback, or ``None``.

    Only an officer's registration is vouched for: a supervisor is always called about.
    """
    if officer.user.role != Role.OFFICER:
        return None
    now = timezone.now()
    for vouch in vouches_for(officer=officer):
        if vouch_problem(vouch=vouch, now=now) is None:
            return vouch
    return None


def number_needs_source(*, agency: Agency) -> bool:
    """Whether a call to the agency must be to a number found independently, with its source.

    True until the agency is first verified: its number on file came with its proposal,
    typed by the very person the call is meant to check. Once it is verified, the number
    on file is one an administrator checked, and officers who register later are checked
    by calling it.
    """
    return agency.verified_at is None


# --- What stands between an object and approval ----------------------------------------


def agency_verification_problems(*, agency: Agency) -> list[str]:
    """Return why the agency cannot be verified (or reinstated) now; empty if it can."""
    problems = []
    needs_source = number_needs_source(agency=agency)
    if not agency.callback_phone:
        problems.append(gettext("The agency has no callback number on file."))
    elif confirmed_callback(agency=agency, sourced=needs_source) is None:
        number = international(agency.callback_phone)
        problems.append(
            gettext(
                "No confirmed callback to a number found independently of the registration, "
                "with where it was found, has been recorded (the number on file is %(number)s)."
            )
            % {"number": number}
            if needs_source
            else gettext(
                "No confirmed callback to the number on file (%(number)s) has been recorded "
                "since it was set."
            )
            % {"number": number}
        )
    if not agency.domains.exists():
        problems.append(gettext("The agency has no official email domain."))
    if Agency.objects.filter(unconfirmed_proposal(), pk=agency.pk).exists():
        problems.append(
            gettext(
                "Nobody at the agency has confirmed a mailbox yet: the proposal is only a claim "
                "typed into the registration form."
            )
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
        return DomainMatch(None, gettext("The email address is on none of the agency's domains."))
    return DomainMatch(domain, "")


def officer_approval_problems(*, officer: Officer) -> list[str]:
    """Return why the officer cannot be approved (or reinstated) now; empty if they can."""
    problems = []
    user = officer.user
    if not user.is_active:
        problems.append(gettext("The user account is deactivated."))
    if officer.email_verified_at is None:
        problems.append(gettext("The officer has not verified their mailbox."))
    if officer_domain_match(officer=officer).domain is None:
        problems.append(
            gettext("The officer's email address is not on one of the agency's domains.")
        )
    if not factor_summary(user=user).complete_for(user):
        problems.append(
            gettext("The officer has not enrolled both a passkey and an authenticator app.")
        )
    if officer.agency.status != Agency.Status.VERIFIED:
        problems.append(
            gettext("The agency is not verified (it is %(status)s).")
            % {"status": officer.agency.get_status_display().lower()}
        )
    if (
        confirmed_callback(agency=officer.agency, officer=officer) is None
        and vouch_counting(officer=officer) is None
    ):
        problems.append(
            _(
                "No confirmed callback about this officer to the agency's number on file "
                "has been recorded, and no supervisor with a recent callback has vouched "
                "for them."
            )
        )
    return problems


def supervisor_proposal_pending(officer: Officer) -> bool:
    """Whether an administrator proposed this officer as supervisor and nobody decided yet."""
    return officer.user.role == Role.OFFICER and officer.supervisor_proposed_at is not None


def supervisor_appointment_callback(*, officer: Officer) -> CallbackCheck | None:
    """The confirmed callback about the officer made since they were proposed as supervisor."""
    if officer.supervisor_proposed_at is None:
        return None
    return (
        callbacks_counting(agency=officer.agency)
        .filter(
            officer=officer,
            outcome=CallbackCheck.Outcome.CONFIRMED,
            called_at__gt=officer.supervisor_proposed_at,
        )
        .order_by("-called_at", "-pk")
        .first()
    )


def supervisor_appointment_problems(*, officer: Officer) -> list[str]:
    """Why the officer cannot be appointed their agency's supervisor now; empty if they can.

    The role is confirmed like an officer is: by a call to the agency's number on file,
    made after the proposal, in which the agency confirmed the person supervises.
    """
    if not supervisor_proposal_pending(officer):
        return [_("Nobody has proposed this officer as supervisor.")]
    problems = []
    if officer.status != Officer.Status.ACTIVE or not officer.user.is_active:
        problems.append(
            _("The officer is not active (they are %(status)s).")
            % {"status": officer.get_status_display().lower()}
        )
    if officer.agency.status != Agency.Status.VERIFIED:
        problems.append(
            _("The agency is not verified (it is %(status)s).")
            % {"status": officer.agency.get_status_display().lower()}
        )
    if supervisor_appointment_callback(officer=officer) is None:
        problems.append(
            _(
                "No confirmed callback about this officer has been recorded since they were "
                "proposed as supervisor: call the number on file and ask whether they "
                "supervise the agency's officers."
            )
        )
    return problems


def key_owner_problems(*, officer: Officer | None, agency: Agency | None) -> list[str]:
    """Return why a key of this owner cannot be approved: only keys that could count."""
    problems = []
    if officer is not None:
        agency = officer.agency
        if officer.status != Officer.Status.ACTIVE or not officer.user.is_active:
            problems.append(
                gettext("The officer is not active (they are %(status)s).")
                % {"status": officer.get_status_display().lower()}
            )
    if agency is None:
        problems.append(gettext("The key has no owner."))
    elif agency.status != Agency.Status.VERIFIED:
        problems.append(
            gettext("The agency is not verified (it is %(status)s).")
            % {"status": agency.get_status_display().lower()}
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
    number_needs_source: bool


def agency_evidence(*, agency: Agency) -> AgencyEvidence:
    """Gather what a vetting administrator needs to decide about an agency."""
    return AgencyEvidence(
        domains=list(agency.domains.all()),
        officers=list(agency.officers.select_related("user").order_by("created_at", "pk")),
        callbacks=list(
            agency.callbacks.select_related(
                "called_by", "officer__user", "signing_key", "signing_passkey", "age_recipient"
            ).order_by("-called_at", "-pk")
        ),
        counting_callback_ids=frozenset(
            callbacks_counting(agency=agency).values_list("pk", flat=True)
        ),
        number_changed_at=callback_number_changed_at(agency=agency),
        recipients=list(agency.recipients.order_by("-created_at")),
        problems=agency_verification_problems(agency=agency),
        number_needs_source=number_needs_source(agency=agency),
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
    vouches: list[tuple[OfficerVouch, str | None]]
    supervisor_problems: list[str]
    supervision_events: list[AuditEvent]
    first_passkey: SigningPasskey | None
    number_needs_source: bool


# What supervisors did about an officer, shown on the officer's vetting page.
SUPERVISION_ACTIONS = ("officer.suspended", "officer.reinstatement_requested", "officer.vouched")


def supervision_events(*, officer: Officer) -> list[AuditEvent]:
    """The audit events of supervisors' acts about the officer, newest first."""
    return list(
        AuditEvent.objects.filter(
            action__in=SUPERVISION_ACTIONS,
            target_type=Officer._meta.label_lower,
            target_id=str(officer.pk),
            actor__role=Role.SUPERVISOR,
        )
        .select_related("actor")
        .order_by("-seq")[:50]
    )


def officer_evidence(*, officer: Officer) -> OfficerEvidence:
    """Gather what a vetting administrator needs to decide about an officer."""
    summary = factor_summary(user=officer.user)
    return OfficerEvidence(
        domain_match=officer_domain_match(officer=officer),
        factors=summary,
        factors_complete=summary.complete_for(officer.user),
        callbacks=list(
            officer.callbacks.select_related(
                "called_by", "signing_key", "signing_passkey", "age_recipient"
            ).order_by("-called_at", "-pk")
        ),
        counting_callback_ids=frozenset(
            callbacks_counting(agency=officer.agency)
            .filter(officer=officer)
            .values_list("pk", flat=True)
        ),
        signing_keys=list(officer.signing_keys.order_by("-created_at")),
        signing_passkeys=list(officer.signing_passkeys.order_by("-created_at")),
        recipients=list(officer.recipients.order_by("-created_at")),
        problems=officer_approval_problems(officer=officer),
        vouches=[(vouch, vouch_problem(vouch=vouch)) for vouch in vouches_for(officer=officer)],
        supervisor_problems=(
            supervisor_appointment_problems(officer=officer)
            if supervisor_proposal_pending(officer)
            else []
        ),
        supervision_events=supervision_events(officer=officer),
        first_passkey=first_passkey_pending(officer=officer),
        number_needs_source=number_needs_source(agency=officer.agency),
    )


def first_passkey_pending(*, officer: Officer) -> SigningPasskey | None:
    """The officer's first passkey, which may be approved together with the officer.

    The one passkey still registered and waiting, when the officer has no approved one:
    the passkey they enrolled at registration. With several waiting, each is decided on
    its own page.
    """
    if SigningPasskey.objects.filter(officer=officer, status=KeyStatus.ACTIVE).exists():
        return None
    waiting = list(
        SigningPasskey.objects.filter(
            officer=officer,
            status=KeyStatus.PENDING,
            credential__isnull=False,
            credential__confirmed=True,
        )[:2]
    )
    return waiting[0] if len(waiting) == 1 else None


@dataclass(frozen=True)
class KeyCallEvidence:
    """The agency to call about a key, and the calls made about it so far."""

    agency: Agency
    callbacks: list[CallbackCheck]
    counting_callback_ids: frozenset[int]
    number_needs_source: bool


def key_call_evidence(*, key: SigningKey | SigningPasskey | AgeRecipient) -> KeyCallEvidence:
    """Gather the calls about one key: the owner's agency's number and its history."""
    agency = key.officer.agency if key.officer is not None else getattr(key, "agency", None)
    if agency is None:  # a check constraint gives every recipient an owner
        raise Http404(gettext("This key has no owner."))
    field = {SigningKey: "signing_key", SigningPasskey: "signing_passkey"}.get(
        type(key), "age_recipient"
    )
    calls = agency.callbacks.filter(**{field: key})
    return KeyCallEvidence(
        agency=agency,
        callbacks=list(calls.select_related("called_by").order_by("-called_at", "-pk")),
        counting_callback_ids=frozenset(
            callbacks_counting(agency=agency).filter(**{field: key}).values_list("pk", flat=True)
        ),
        number_needs_source=number_needs_source(agency=agency),
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
