"""Vetting decisions: verify agencies, approve officers and keys, suspend and revoke.

Every decision runs in one transaction that locks the row it decides about
(``select_for_update``), checks the transition table below against the state it finds
there, and writes its audit event before committing. Two administrators deciding about
the same object at once therefore queue on the lock, and the second one sees the first
one's result and is refused if its decision no longer applies.

Rows are locked in one order everywhere (agency, then officer, then key or token) so that
decisions about related objects cannot deadlock.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from portal.audit import audit_append
from portal.crypto import (
    CryptoError,
    age_recipient_normalise,
    ed25519_key_id,
    ed25519_public_key_from_pem,
    sha256_hex,
)
from portal.models import AuditEvent

from .. import phones
from ..models import (
    Agency,
    AgeRecipient,
    ApiToken,
    CallbackCheck,
    KeyStatus,
    Officer,
    Role,
    SigningKey,
    SigningPasskey,
    User,
)
from ..preferences import recipient_locale
from ..selectors import (
    CALLBACK_NUMBER_CHANGED,
    agency_verification_problems,
    confirmed_callback,
    key_owner_problems,
    number_needs_source,
    officer_approval_problems,
    supervisor_appointment_callback,
    supervisor_appointment_problems,
    supervisor_proposal_pending,
    vouch_counting,
)
from .keys import (
    KEY_ENTITIES,
    REVOCABLE_BY_VETTING,
    KeyRefused,
    key_identity,
    key_owner_data,
    key_owner_lock,
    key_revoke,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
else:
    StrOrPromise = str

REASON_MAX_LENGTH = 2000


class VettingRefused(Exception):
    """A decision that may not be taken now; each problem is safe to show to the admin."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems))


# --- Transition tables -----------------------------------------------------------------
# The only status changes the vetting pages can make. The services and the tests both
# read these tables; a status change that is not here cannot happen through vetting.


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str


def _t(sources: Iterable[str], target: str) -> Transition:
    return Transition(frozenset(str(s) for s in sources), str(target))


AGENCY_TRANSITIONS: Final[Mapping[str, Transition]] = {
    "verify": _t({Agency.Status.PENDING}, Agency.Status.VERIFIED),
    "reject": _t({Agency.Status.PENDING}, Agency.Status.REJECTED),
    "suspend": _t({Agency.Status.VERIFIED}, Agency.Status.SUSPENDED),
    "reinstate": _t({Agency.Status.SUSPENDED}, Agency.Status.VERIFIED),
}

OFFICER_TRANSITIONS: Final[Mapping[str, Transition]] = {
    "approve": _t({Officer.Status.PENDING}, Officer.Status.ACTIVE),
    "reject": _t(
        {Officer.Status.EMAIL_UNVERIFIED, Officer.Status.PENDING}, Officer.Status.REJECTED
    ),
    "suspend": _t({Officer.Status.ACTIVE}, Officer.Status.SUSPENDED),
    "reinstate": _t({Officer.Status.SUSPENDED}, Officer.Status.ACTIVE),
}

KEY_TRANSITIONS: Final[Mapping[str, Transition]] = {
    "approve": _t({KeyStatus.PENDING}, KeyStatus.ACTIVE),
    "reject": _t({KeyStatus.PENDING}, KeyStatus.REJECTED),
    "revoke": _t({KeyStatus.ACTIVE}, KeyStatus.REVOKED),
}


def actions_allowed(table: Mapping[str, Transition], status: str) -> list[str]:
    """Return the actions of ``table`` that apply to an object in ``status``."""
    return [action for action, transition in table.items() if status in transition.sources]


def _next_status(table: Mapping[str, Transition], action: str, current: str, what: str) -> str:
    transition = table[action]
    if current not in transition.sources:
        # Translators: a decision raced another one; %(status)s is the record's new state.
        raise VettingRefused(
            gettext("This is %(status)s now: that decision no longer applies. Reload the page.")
            % {"status": current}
        )
    return transition.target


def _past(action: str) -> str:
    return {
        "verify": "verified",
        "reject": "rejected",
        "suspend": "suspended",
        "reinstate": "reinstated",
        "approve": "approved",
        "revoke": "revoked",
    }[action]


# --- Shared checks ---------------------------------------------------------------------


def _require_vetting_admin(actor: User) -> None:
    if actor.role != Role.VETTING_ADMIN or not actor.is_active:
        raise PermissionDenied


def _clean_reason(reason: str, *, label: str = "a reason") -> str:
    text = (reason or "").strip()
    if not text:
        raise VettingRefused(f"Give {label}.")
    if len(text) > REASON_MAX_LENGTH:
        raise VettingRefused(f"Keep {label} under {REASON_MAX_LENGTH} characters.")
    return text


def _status_change(before: str, after: str, **extra: object) -> dict[str, object]:
    return {"before": {"status": before}, "after": {"status": after}, **extra}


def _lock_agency(pk: int) -> Agency:
    return Agency.objects.select_for_update().get(pk=pk)


def _lock_officer(pk: int) -> Officer:
    return Officer.objects.select_for_update().get(pk=pk)


def _api_tokens_revoke(*, officer_ids: list[int], actor: User, because: str) -> int:
    """Revoke every usable API token of these officers; audit each. Return how many."""
    now = timezone.now()
    tokens = list(
        ApiToken.objects.select_for_update()
        .filter(officer_id__in=officer_ids, revoked_at__isnull=True, expires_at__gt=now)
        .order_by("pk")
    )
    for token in tokens:
        token.revoked_at = now
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_append(
            actor=actor,
            action="api_token.revoked",
            target=token,
            data={
                "officer_id": token.officer_id,
                "name": token.name,
                "prefix": token.prefix,
                "because": because,
            },
        )
    return len(tokens)


def _notify_officer(*, officer: Officer, subject: Promise, body: Promise) -> None:
    """Email the officer after the decision commits. Says what happened, nothing more.

    ``subject`` and ``body`` are lazy translations, rendered in the officer's language.
    """
    address = officer.user.email
    with recipient_locale(officer.user):
        message = EmailMessage(
            subject=str(subject),
            body=str(body),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
        )
    # robust: a mail server failure must not turn a committed decision into an error page.
    transaction.on_commit(message.send, robust=True)


# --- Agencies --------------------------------------------------------------------------


AnyKey = SigningKey | SigningPasskey | AgeRecipient


def _key_agency_id(key: AnyKey) -> int | None:
    """The agency a key answers to: its officer's, or the agency of an agency recipient."""
    if key.officer_id is not None:
        return Officer.objects.values_list("agency_id", flat=True).get(pk=key.officer_id)
    return getattr(key, "agency_id", None)


def _callback_create(
    *,
    agency: Agency,
    actor: User,
    outcome: str,
    note: str,
    number: str,
    number_source: str = "",
    officer: Officer | None = None,
    key: AnyKey | None = None,
    not_before: datetime | None = None,
) -> CallbackCheck:
    """Write one call to the agency's callback history, and its audit event."""
    called_at = timezone.now()
    if not_before is not None and called_at <= not_before:
        # A call recorded with the number it put on file is made after that change, even
        # on a clock too coarse to tell them apart (the rule is "after", strictly).
        called_at = not_before + timedelta(microseconds=1)
    callback = CallbackCheck.objects.create(
        agency=agency,
        officer=officer,
        number_called=number,
        number_source=number_source,
        called_by=actor,
        called_at=called_at,
        outcome=outcome,
        note=(note or "").strip()[:REASON_MAX_LENGTH],
        **({KEY_ENTITIES[type(key)]: key} if key is not None else {}),
    )
    audit_append(
        actor=actor,
        action="callback.recorded",
        target=callback,
        data={
            "agency_id": agency.pk,
            "officer_id": officer.pk if officer else None,
            "number_called": number,
            "number_source": number_source,
            "outcome": outcome,
            "note": callback.note,
            **({"key": {"kind": KEY_ENTITIES[type(key)], **key_identity(key)}} if key else {}),
        },
    )
    return callback


def _number_refused() -> VettingRefused:
    return VettingRefused(
        gettext(
            "Enter the number in international form: a plus sign, the country code and "
            "the number, such as +49 30 123456."
        )
    )


def callback_record(
    *,
    agency: Agency,
    actor: User,
    outcome: str,
    note: str = "",
    officer: Officer | None = None,
    key: AnyKey | None = None,
    number: str = "",
    number_source: str = "",
) -> CallbackCheck:
    """Record a call to the agency, optionally about one of its officers or keys.

    Which number counts depends on the agency (``selectors.number_needs_source``):

    - A verified agency is called on its number on file, copied from its record: an
      administrator cannot record a call to a number that an impostor gave them, and
      ``number`` and ``number_source`` must be empty.
    - An agency never verified has on file the number its proposal gave, from the very
      person the call is meant to check. The administrator calls a number they found
      independently (``number``) and says where (``number_source``). If it is not the
      number on file, it becomes the number on file (an audited change that voids every
      earlier call), and the call is recorded after that change.
    """
    _require_vetting_admin(actor)
    if outcome not in CallbackCheck.Outcome.values:
        raise VettingRefused(gettext("Choose the outcome of the call."))
    with transaction.atomic():
        locked = _lock_agency(agency.pk)
        if locked.status == Agency.Status.REJECTED:
            raise VettingRefused(gettext("This agency was rejected: its record is closed."))
        if officer is not None and officer.agency_id != locked.pk:
            raise VettingRefused(gettext("That officer does not belong to this agency."))
        if key is not None:
            if _key_agency_id(key) != locked.pk:
                raise VettingRefused(gettext("That key does not belong to this agency."))
            if officer is not None and key.officer_id != officer.pk:
                raise VettingRefused(gettext("That key does not belong to this officer."))
            officer = key.officer
        changed_at = None
        if number_needs_source(agency=locked):
            source = _clean_reason(number_source, label=gettext("where you found the number"))
            try:
                dialled = phones.e164(number)
            except phones.PhoneInvalid:
                raise _number_refused() from None
            if dialled != locked.callback_phone:
                changed_at = _callback_number_set(
                    locked,
                    actor=actor,
                    number=dialled,
                    reason=gettext("Found independently for a call: %(source)s")
                    % {"source": source},
                ).created_at
        else:
            if (number or "").strip() or (number_source or "").strip():
                raise VettingRefused(
                    gettext(
                        "Call the number on file: this agency is verified, and its number "
                        "was checked when it was."
                    )
                )
            if not locked.callback_phone:
                raise VettingRefused(gettext("The agency has no callback number on file."))
            dialled, source = locked.callback_phone, ""
        return _callback_create(
            agency=locked,
            actor=actor,
            outcome=outcome,
            note=note,
            number=dialled,
            number_source=source,
            officer=officer,
            key=key,
            not_before=changed_at,
        )


def _callback_number_set(locked: Agency, *, actor: User, number: str, reason: str) -> AuditEvent:
    """Put ``number`` on file for the locked agency; audited, so earlier calls stop counting."""
    before = locked.callback_phone
    locked.callback_phone = number
    locked.save(update_fields=["callback_phone"])
    return audit_append(
        actor=actor,
        action=CALLBACK_NUMBER_CHANGED,
        target=locked,
        data={
            "before": {"callback_phone": before},
            "after": {"callback_phone": number},
            "reason": reason,
        },
    )


def agency_callback_number_change(
    *, agency: Agency, actor: User, number: str, reason: str
) -> Agency:
    """Put a new callback number on file; every earlier callback stops counting."""
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    try:
        new_number = phones.e164(number)
    except phones.PhoneInvalid:
        raise _number_refused() from None
    with transaction.atomic():
        locked = _lock_agency(agency.pk)
        if locked.status == Agency.Status.REJECTED:
            raise VettingRefused(gettext("This agency was rejected: its record is closed."))
        if new_number == locked.callback_phone:
            raise VettingRefused(gettext("That is already the number on file."))
        _callback_number_set(locked, actor=actor, number=new_number, reason=reason)
    return locked


def agency_verify(*, agency: Agency, actor: User) -> Agency:
    """Verify a pending agency after a confirmed callback that counts.

    The call is to a number the administrator found independently of the proposal, and
    recorded with where it was found (``callback_record``): a call to the number the
    proposer supplied proves nothing by itself. The audit event names that call and its
    source.
    """
    _require_vetting_admin(actor)
    with transaction.atomic():
        locked = _lock_agency(agency.pk)
        before = locked.status
        after = _next_status(AGENCY_TRANSITIONS, "verify", before, "agency")
        problems = agency_verification_problems(agency=locked)
        if problems:
            raise VettingRefused(problems)
        callback = confirmed_callback(agency=locked, sourced=number_needs_source(agency=locked))
        if callback is None:  # covered by the problems above; kept for the record's sake
            raise VettingRefused(gettext("No confirmed callback to the number on file."))
        locked.status = after
        locked.status_reason = ""
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "verified_by", "verified_at"])
        audit_append(
            actor=actor,
            action="agency.verified",
            target=locked,
            data=_status_change(
                before,
                after,
                callback_id=callback.pk,
                number_called=callback.number_called,
                number_source=callback.number_source,
            ),
        )
    return locked


def agency_reject(*, agency: Agency, actor: User, reason: str) -> Agency:
    """Reject a proposed agency: it never becomes verified; its officers cannot log in."""
    return _agency_decide(agency=agency, actor=actor, action="reject", reason=reason)


def agency_suspend(*, agency: Agency, actor: User, reason: str) -> Agency:
    """Suspend an agency: its officers' sessions end at their next request, tokens now."""
    return _agency_decide(agency=agency, actor=actor, action="suspend", reason=reason)


def agency_reinstate(*, agency: Agency, actor: User, reason: str) -> Agency:
    """Lift a suspension; needs a confirmed callback to the number on file, like verifying."""
    return _agency_decide(agency=agency, actor=actor, action="reinstate", reason=reason)


def _agency_decide(*, agency: Agency, actor: User, action: str, reason: str) -> Agency:
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = _lock_agency(agency.pk)
        before = locked.status
        after = _next_status(AGENCY_TRANSITIONS, action, before, "agency")
        if action == "reinstate":
            problems = agency_verification_problems(agency=locked)
            if problems:
                raise VettingRefused(problems)
        fields = ["status", "status_reason"]
        locked.status = after
        if action == "reinstate":
            locked.status_reason = ""
            locked.verified_by = actor
            locked.verified_at = timezone.now()
            fields += ["verified_by", "verified_at"]
        else:
            locked.status_reason = reason
        locked.save(update_fields=fields)
        audit_append(
            actor=actor,
            action=f"agency.{_past(action)}",
            target=locked,
            data=_status_change(before, after, reason=reason),
        )
        if action == "suspend":
            _api_tokens_revoke(
                officer_ids=list(locked.officers.values_list("pk", flat=True)),
                actor=actor,
                because="agency.suspended",
            )
    return locked


# --- Officers --------------------------------------------------------------------------


def officer_approve(
    *, officer: Officer, actor: User, passkey: SigningPasskey | None = None
) -> Officer:
    """Approve a pending officer whose mailbox, factors, agency and callback all check out.

    ``passkey``: the officer's first passkey, whose fingerprint the officer read out on
    the same call, approved with them as a signing key by the keys' one approve routine
    (its own audit event, naming that call). Both, or neither.
    """
    _require_vetting_admin(actor)
    with transaction.atomic():
        _lock_agency(officer.agency_id)
        locked = _lock_officer(officer.pk)
        before = locked.status
        after = _next_status(OFFICER_TRANSITIONS, "approve", before, "officer")
        problems = officer_approval_problems(officer=locked)
        if problems:
            raise VettingRefused(problems)
        # The officer's own callback, or else a supervisor's vouch standing in for it.
        callback = confirmed_callback(agency=locked.agency, officer=locked)
        vouch = None if callback is not None else vouch_counting(officer=locked)
        if callback is None and vouch is None:  # covered by the problems above
            raise VettingRefused(gettext("No confirmed callback about this officer."))
        if passkey is not None and passkey.officer_id != locked.pk:
            raise VettingRefused(gettext("That passkey is not this officer's."))
        locked.status = after
        locked.status_reason = ""
        locked.vetted_by = actor
        locked.vetted_at = timezone.now()
        locked.save(update_fields=["status", "status_reason", "vetted_by", "vetted_at"])
        evidence: dict[str, object] = {"callback_id": callback.pk if callback else None}
        if vouch is not None:
            supervisor_call = confirmed_callback(agency=locked.agency, officer=vouch.supervisor)
            evidence["vouch"] = {
                "id": vouch.pk,
                "supervisor_id": vouch.supervisor_id,
                "vouched_at": vouch.vouched_at,
                "supervisor_callback_id": supervisor_call.pk if supervisor_call else None,
            }
        audit_append(
            actor=actor,
            action="officer.approved",
            target=locked,
            data=_status_change(before, after, **evidence),
        )
        if passkey is not None:
            signing_passkey_approve(
                key=passkey, actor=actor, fingerprint_confirmed=True, on_call=callback
            )
        _notify_officer(
            officer=locked,
            subject=gettext_lazy("Your authority portal account is approved"),
            body=(
                gettext_lazy(
                    "Your account on the authority portal has been approved.\n\n"
                    "Log in with your password and your passkey or authenticator app. Open "
                    "the portal from the address you already know rather than from a link "
                    "in an email.\n\n"
                    "Your passkey is approved too: it confirms the requests you send "
                    "through the portal's web form.\n"
                )
                if passkey is not None
                else gettext_lazy(
                    "Your account on the authority portal has been approved.\n\n"
                    "Log in with your password and your passkey or authenticator app. Open "
                    "the portal from the address you already know rather than from a link "
                    "in an email.\n"
                )
            ),
        )
    return locked


def officer_reject(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Reject a registration; the officer is told, without the reason."""
    return _officer_decide(officer=officer, actor=actor, action="reject", reason=reason)


def officer_suspend(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Suspend an officer: their session ends at the next request, their tokens now."""
    return _officer_decide(officer=officer, actor=actor, action="suspend", reason=reason)


def officer_reinstate(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Lift a suspension; the same checks as approving apply again."""
    return _officer_decide(officer=officer, actor=actor, action="reinstate", reason=reason)


def _officer_decide(*, officer: Officer, actor: User, action: str, reason: str) -> Officer:
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        _lock_agency(officer.agency_id)
        locked = _lock_officer(officer.pk)
        before = locked.status
        after = _next_status(OFFICER_TRANSITIONS, action, before, "officer")
        if action == "reinstate":
            problems = officer_approval_problems(officer=locked)
            if problems:
                raise VettingRefused(problems)
        fields = ["status", "status_reason"]
        locked.status = after
        locked.status_reason = "" if action == "reinstate" else reason
        if action in ("reject", "reinstate"):
            locked.vetted_by = actor
            locked.vetted_at = timezone.now()
            fields += ["vetted_by", "vetted_at"]
        locked.save(update_fields=fields)
        audit_append(
            actor=actor,
            action=f"officer.{_past(action)}",
            target=locked,
            data=_status_change(before, after, reason=reason),
        )
        if action == "suspend":
            _api_tokens_revoke(officer_ids=[locked.pk], actor=actor, because="officer.suspended")
        if action == "reject":
            _notify_officer(
                officer=locked,
                subject=gettext_lazy("Your authority portal registration"),
                body=gettext_lazy(
                    "Your registration on the authority portal was not approved.\n\n"
                    "If you think this is a mistake, ask your agency to contact the "
                    "platform through its official channels.\n"
                ),
            )
    return locked


# --- Agency supervisors ---------------------------------------------------------------------


def supervisor_propose(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Propose an active officer as their agency's supervisor; a callback must confirm it."""
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        _lock_agency(officer.agency_id)
        locked = Officer.objects.select_for_update().select_related("user").get(pk=officer.pk)
        if locked.user.role != Role.OFFICER:
            raise VettingRefused(_("Only an officer can be proposed as supervisor."))
        if locked.status != Officer.Status.ACTIVE:
            raise VettingRefused(_("Only an active officer can be proposed as supervisor."))
        if supervisor_proposal_pending(locked):
            raise VettingRefused(_("This officer is already proposed as supervisor."))
        locked.supervisor_proposed_at = timezone.now()
        locked.supervisor_proposed_by = actor
        locked.save(update_fields=["supervisor_proposed_at", "supervisor_proposed_by"])
        audit_append(
            actor=actor,
            action="officer.supervisor_proposed",
            target=locked,
            data={"reason": reason, "proposed_at": locked.supervisor_proposed_at},
        )
    return locked


def supervisor_proposal_withdraw(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Drop a pending proposal: the officer stays an officer."""
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        _lock_agency(officer.agency_id)
        locked = Officer.objects.select_for_update().select_related("user").get(pk=officer.pk)
        if not supervisor_proposal_pending(locked):
            raise VettingRefused(_("This officer is not proposed as supervisor."))
        proposed_at = locked.supervisor_proposed_at
        locked.supervisor_proposed_at = None
        locked.supervisor_proposed_by = None
        locked.save(update_fields=["supervisor_proposed_at", "supervisor_proposed_by"])
        audit_append(
            actor=actor,
            action="officer.supervisor_proposal_withdrawn",
            target=locked,
            data={"reason": reason, "proposed_at": proposed_at},
        )
    return locked


def supervisor_appoint(*, officer: Officer, actor: User) -> Officer:
    """Make a proposed officer their agency's supervisor, after a callback confirmed the role.

    The user's role becomes ``supervisor``: from the next request on they see the agency's
    pages and no longer submit; their API tokens are revoked now (a supervisor has none).
    Their keys stay, so responses sealed to their recipients still open.
    """
    _require_vetting_admin(actor)
    with transaction.atomic():
        _lock_agency(officer.agency_id)
        locked = (
            Officer.objects.select_for_update().select_related("user", "agency").get(pk=officer.pk)
        )
        problems = supervisor_appointment_problems(officer=locked)
        if problems:
            raise VettingRefused(problems)
        callback = supervisor_appointment_callback(officer=locked)
        if callback is None:  # covered by the problems above
            raise VettingRefused(_("No confirmed callback since the proposal."))
        user = User.objects.select_for_update().get(pk=locked.user_id)
        user.role = Role.SUPERVISOR
        user.save(update_fields=["role"])
        audit_append(
            actor=actor,
            action="officer.supervisor_appointed",
            target=locked,
            data={
                "before": {"role": Role.OFFICER},
                "after": {"role": Role.SUPERVISOR},
                "callback_id": callback.pk,
                "proposed_at": locked.supervisor_proposed_at,
            },
        )
        _api_tokens_revoke(
            officer_ids=[locked.pk], actor=actor, because="officer.supervisor_appointed"
        )
        _notify_officer(
            officer=locked,
            subject=gettext_lazy("You are now your agency's supervisor on the authority portal"),
            body=gettext_lazy(
                "The platform confirmed with your agency that you supervise its officers. "
                "From your next visit, the portal shows you your agency's requests, its "
                "officers, and their keys and tokens.\n\n"
                "A supervisor does not submit requests: your API tokens were revoked.\n"
            ),
        )
    return locked


# --- Keys ------------------------------------------------------------------------------


COMPARE_FINGERPRINT = gettext_lazy("Confirm that you compared the fingerprint with the officer.")


def signing_key_approve(
    *, key: SigningKey, actor: User, fingerprint_confirmed: bool, note: str = ""
) -> SigningKey:
    """Approve a pending signing key whose fingerprint the officer confirmed by phone."""

    def integrity(locked: SigningKey) -> list[str]:
        try:
            recomputed = ed25519_key_id(ed25519_public_key_from_pem(locked.public_key_pem))
        except CryptoError:
            recomputed = ""
        if recomputed != locked.key_id:
            return [gettext("The stored key id does not match the stored public key.")]
        return []

    return _key_approve(
        model=SigningKey,
        key=key,
        actor=actor,
        noun="key",
        fingerprint_confirmed=fingerprint_confirmed,
        unconfirmed=COMPARE_FINGERPRINT,
        integrity=integrity,
        identity=lambda locked: {"key_id": locked.key_id},
        note=note,
    )


def signing_key_reject(*, key: SigningKey, actor: User, reason: str) -> SigningKey:
    """Refuse a pending signing key (kept for the record)."""
    return _key_decide(model=SigningKey, key=key, actor=actor, action="reject", reason=reason)


def signing_key_revoke(*, key: SigningKey, actor: User, reason: str) -> SigningKey:
    """Revoke an active signing key at once; it is kept so old signatures stay checkable."""
    return _key_revoke(key=key, actor=actor, reason=reason)


def signing_passkey_approve(
    *,
    key: SigningPasskey,
    actor: User,
    fingerprint_confirmed: bool,
    note: str = "",
    on_call: CallbackCheck | None = None,
) -> SigningPasskey:
    """Approve a pending signing passkey whose fingerprint the officer read out by phone.

    Refused if the passkey was removed meanwhile, or if its stored public key no longer
    hashes to the fingerprint on record (the key approved is the key that signs).
    """

    def integrity(locked: SigningPasskey) -> list[str]:
        credential = locked.credential
        if credential is None or not credential.confirmed:
            return [gettext("The officer removed this passkey: it can no longer be approved.")]
        if sha256_hex(bytes(credential.public_key)) != locked.public_key_sha256:
            return [gettext("The stored fingerprint does not match the passkey's public key.")]
        return []

    return _key_approve(
        model=SigningPasskey,
        key=key,
        actor=actor,
        noun="passkey",
        fingerprint_confirmed=fingerprint_confirmed,
        unconfirmed=COMPARE_FINGERPRINT,
        integrity=integrity,
        identity=lambda locked: {
            "key_id": locked.key_id,
            "public_key_sha256": locked.public_key_sha256,
        },
        note=note,
        on_call=on_call,
    )


def signing_passkey_reject(*, key: SigningPasskey, actor: User, reason: str) -> SigningPasskey:
    """Refuse a pending signing passkey; it still logs in, but never signs (kept on record)."""
    return _key_decide(model=SigningPasskey, key=key, actor=actor, action="reject", reason=reason)


def signing_passkey_revoke(*, key: SigningPasskey, actor: User, reason: str) -> SigningPasskey:
    """Revoke an active signing passkey at once; it is kept so old signatures stay checkable."""
    return _key_revoke(key=key, actor=actor, reason=reason)


def age_recipient_approve(
    *, recipient: AgeRecipient, actor: User, fingerprint_confirmed: bool, note: str = ""
) -> AgeRecipient:
    """Approve a pending age recipient that its owner confirmed by phone."""

    def integrity(locked: AgeRecipient) -> list[str]:
        try:
            canonical = age_recipient_normalise(locked.recipient)
        except CryptoError:
            canonical = ""
        if canonical != locked.recipient:
            return [gettext("The stored recipient is not a valid age X25519 recipient.")]
        return []

    return _key_approve(
        model=AgeRecipient,
        key=recipient,
        actor=actor,
        noun="recipient",
        fingerprint_confirmed=fingerprint_confirmed,
        unconfirmed=gettext("Confirm that you compared the recipient with its owner."),
        integrity=integrity,
        identity=lambda locked: {"recipient": locked.recipient},
        note=note,
    )


def age_recipient_reject(*, recipient: AgeRecipient, actor: User, reason: str) -> AgeRecipient:
    """Refuse a pending age recipient (kept for the record)."""
    return _key_decide(
        model=AgeRecipient, key=recipient, actor=actor, action="reject", reason=reason
    )


def age_recipient_revoke(*, recipient: AgeRecipient, actor: User, reason: str) -> AgeRecipient:
    """Revoke an active age recipient: no new response is sealed to it. Never deleted."""
    return _key_revoke(key=recipient, actor=actor, reason=reason)


def _key_approve[K: (SigningKey, SigningPasskey, AgeRecipient)](
    *,
    model: type[K],
    key: K,
    actor: User,
    noun: str,
    fingerprint_confirmed: bool,
    unconfirmed: StrOrPromise,
    integrity: Callable[[K], list[str]],
    identity: Callable[[K], dict[str, object]],
    note: str = "",
    on_call: CallbackCheck | None = None,
) -> K:
    """Approve a pending key once the administrator says they compared its fingerprint.

    Refused with ``unconfirmed`` without that. Under the owner's and the key's row locks:
    the owner must still be allowed keys, and ``integrity`` says whether the stored key
    is still the key that was compared.

    The comparison is a call to the owner's agency on its number on file: the approval
    records that call, confirmed and about this key, in the agency's callback history
    (``note`` says who answered). ``on_call`` is a call recorded already, the one on which
    a pending officer was confirmed and read out their first passkey: the approval names
    it instead of recording it twice.
    """
    _require_vetting_admin(actor)
    if not fingerprint_confirmed:
        raise VettingRefused(str(unconfirmed))
    with transaction.atomic():
        key_owner_lock(officer_id=key.officer_id, agency_id=getattr(key, "agency_id", None))
        locked = model.objects.select_for_update().get(pk=key.pk)
        before = locked.status
        after = _next_status(KEY_TRANSITIONS, "approve", before, noun)
        problems = key_owner_problems(
            officer=locked.officer, agency=getattr(locked, "agency", None)
        )
        problems += integrity(locked)
        agency = Agency.objects.filter(pk=_key_agency_id(locked) or 0).first()
        if agency is not None and on_call is None and not agency.callback_phone:
            problems.append(gettext("The agency has no callback number on file."))
        if on_call is not None and (
            agency is None
            or on_call.agency_id != agency.pk
            or on_call.outcome != CallbackCheck.Outcome.CONFIRMED
        ):
            problems.append(gettext("That call did not confirm anything about this key."))
        if problems or agency is None:  # no agency: key_owner_problems said so
            raise VettingRefused(problems)
        call = on_call or _callback_create(
            agency=agency,
            actor=actor,
            outcome=CallbackCheck.Outcome.CONFIRMED,
            note=note,
            number=agency.callback_phone,
            officer=locked.officer,
            key=locked,
        )
        locked.status = after
        locked.decided_by = actor
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by", "decided_at"])
        audit_append(
            actor=actor,
            action=f"{KEY_ENTITIES[model]}.approved",
            target=locked,
            data=_status_change(
                before,
                after,
                **identity(locked),
                fingerprint_confirmed=True,
                callback_id=call.pk,
                number_called=call.number_called,
                **key_owner_data(locked),
            ),
        )
    return locked


def _key_revoke[K: (SigningKey, SigningPasskey, AgeRecipient)](
    *, key: K, actor: User, reason: str
) -> K:
    """A vetting administrator revokes an approved key: the keys' one revoke routine."""
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    try:
        return key_revoke(key=key, actor=actor, reason=reason, from_states=REVOCABLE_BY_VETTING)
    except KeyRefused as refused:
        raise VettingRefused(refused.message) from None


def _key_decide[K: (SigningKey, SigningPasskey, AgeRecipient)](
    *, model: type[K], key: K, actor: User, action: str, reason: str
) -> K:
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    entity = KEY_ENTITIES[model]
    with transaction.atomic():
        key_owner_lock(officer_id=key.officer_id, agency_id=getattr(key, "agency_id", None))
        locked = model.objects.select_for_update().get(pk=key.pk)
        before = locked.status
        after = _next_status(KEY_TRANSITIONS, action, before, "key")
        now = timezone.now()
        locked.status = after
        locked.reason = reason
        fields = ["status", "reason"]
        locked.decided_by, locked.decided_at = actor, now
        fields += ["decided_by", "decided_at"]
        locked.save(update_fields=fields)
        identity = key_identity(locked)
        audit_append(
            actor=actor,
            action=f"{entity}.{_past(action)}",
            target=locked,
            data=_status_change(before, after, reason=reason, **identity, **key_owner_data(locked)),
        )
    return locked
