"""What an agency supervisor does about the agency's people and keys.

A supervisor answers for the agency's officers, because the platform's vetting team
cannot know every officer of every police force: when an officer leaves or a laptop is
stolen, the agency cuts access at once, and asks the platform to restore it. So a
supervisor

- suspends an active officer of the agency: the officer's sessions end at their next
  request (the standing middleware), their API tokens are revoked now, and the platform's
  vetting administrators are told;
- asks the platform to reinstate a suspended officer (the platform decides);
- vouches for a new officer's registration (evidence for the platform, which approves);
- revokes, never approves, the agency's signing keys, passkeys, recipients and tokens.

Every act checks, under the row locks, that the actor is an active supervisor of the
same agency as the officer or key, and writes its audit event in its transaction.
"""

from collections.abc import Collection, Mapping
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext_lazy

from portal.audit import audit_append
from portal.templatetags.portal_time import when_html

from ..models import (
    Agency,
    AgeRecipient,
    ApiToken,
    Officer,
    OfficerVouch,
    Role,
    SigningKey,
    SigningPasskey,
    User,
)
from ..preferences import recipient_locale
from ..selectors import confirmed_callback
from ..supervision import reinstatement_asked_at, supervisor_of
from .keys import REVOCABLE, KeyRefused, key_revoke
from .tokens import TokenRefused, api_token_revoke
from .vetting import OFFICER_TRANSITIONS, REASON_MAX_LENGTH, _api_tokens_revoke

NOTE_MAX_LENGTH = 2000


class SupervisionRefused(Exception):
    """An act the supervisor may not take now; the message is safe to show them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_supervisor(actor: User) -> Officer:
    """The actor's own agency record, if they are an active supervisor; else 403."""
    record = supervisor_of(actor)
    if record is None or not actor.is_active:
        raise PermissionDenied
    return record


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise SupervisionRefused(_("Give a reason: it is kept in the audit log."))
    if len(text) > REASON_MAX_LENGTH:
        raise SupervisionRefused(
            _("Keep the reason under %(max)d characters.") % {"max": REASON_MAX_LENGTH}
        )
    return text


def _lock_supervised(*, supervisor: Officer, officer: Officer) -> Officer:
    """Lock the agency and the officer (in the vetting order) and check both belong."""
    Agency.objects.select_for_update().get(pk=supervisor.agency_id)
    locked = Officer.objects.select_for_update().select_related("user").get(pk=officer.pk)
    me = Officer.objects.select_related("user", "agency").get(pk=supervisor.pk)
    if not me.can_act or me.user.role != Role.SUPERVISOR:
        raise PermissionDenied
    if locked.agency_id != me.agency_id or locked.user.role != Role.OFFICER:
        raise PermissionDenied
    return locked


def vetting_admins_notify(*, subject: Promise, body: Promise, params: Mapping[str, object]) -> None:
    """Email every active vetting administrator once the transaction commits.

    ``subject`` and ``body`` are lazy translations with ``%(name)s`` placeholders: each
    administrator gets their own message, in their own language.
    """
    admins = list(User.objects.filter(role=Role.VETTING_ADMIN, is_active=True).order_by("pk"))
    for admin in admins:
        with recipient_locale(admin):
            message = EmailMessage(
                subject=subject % params,
                body=body % params,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[admin.email],
            )
        # robust: a mail server failure must not undo a suspension that was made.
        transaction.on_commit(partial(message.send), robust=True)


def _officer_page_url(officer: Officer) -> str:
    return settings.PORTAL_AUDIENCE + reverse("vetting-officer", args=[officer.pk])


def officer_suspend_by_supervisor(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Suspend an active officer of the supervisor's agency, at once.

    Their sessions end at their next request, their API tokens now; the vetting
    administrators are told. Only the platform reinstates.
    """
    supervisor = _require_supervisor(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = _lock_supervised(supervisor=supervisor, officer=officer)
        transition = OFFICER_TRANSITIONS["suspend"]
        before = locked.status
        if before not in transition.sources:
            raise SupervisionRefused(
                _("This officer is %(status)s: only an active officer can be suspended.")
                % {"status": locked.get_status_display().lower()}
            )
        locked.status = transition.target
        locked.status_reason = reason
        locked.save(update_fields=["status", "status_reason"])
        audit_append(
            actor=actor,
            action="officer.suspended",
            target=locked,
            data={
                "before": {"status": before},
                "after": {"status": locked.status},
                "reason": reason,
                "by_supervisor": supervisor.pk,
            },
        )
        revoked = _api_tokens_revoke(
            officer_ids=[locked.pk], actor=actor, because="officer.suspended"
        )
        vetting_admins_notify(
            subject=gettext_lazy("A supervisor suspended an officer of %(agency)s"),
            body=ngettext_lazy(
                "%(supervisor)s, supervisor at %(agency)s, suspended the officer %(officer)s "
                "(%(email)s) on the authority portal. Their sessions end at their next "
                "request; %(tokens)d API token was revoked.\n\n"
                "Reason given: %(reason)s\n\n"
                "Only a vetting administrator can reinstate them: %(url)s\n",
                "%(supervisor)s, supervisor at %(agency)s, suspended the officer %(officer)s "
                "(%(email)s) on the authority portal. Their sessions end at their next "
                "request; %(tokens)d API tokens were revoked.\n\n"
                "Reason given: %(reason)s\n\n"
                "Only a vetting administrator can reinstate them: %(url)s\n",
                "tokens",
            ),
            params={
                "supervisor": supervisor.user.full_name,
                "agency": supervisor.agency.name,
                "officer": locked.user.full_name,
                "email": locked.user.email,
                "tokens": revoked,
                "reason": reason,
                "url": _officer_page_url(locked),
            },
        )
    return locked


def officer_reinstatement_ask(*, officer: Officer, actor: User, reason: str) -> Officer:
    """Ask the platform to reinstate a suspended officer; the vetting administrators decide."""
    supervisor = _require_supervisor(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = _lock_supervised(supervisor=supervisor, officer=officer)
        if locked.status != Officer.Status.SUSPENDED:
            raise SupervisionRefused(
                _("This officer is %(status)s: only a suspended officer can be reinstated.")
                % {"status": locked.get_status_display().lower()}
            )
        asked = reinstatement_asked_at(officer=locked)
        if asked is not None:
            raise SupervisionRefused(
                _("The platform was already asked on %(date)s; it will answer by email.")
                % {"date": strip_tags(when_html(asked))}
            )
        audit_append(
            actor=actor,
            action="officer.reinstatement_requested",
            target=locked,
            data={"reason": reason, "by_supervisor": supervisor.pk},
        )
        vetting_admins_notify(
            subject=gettext_lazy("A supervisor asks to reinstate an officer of %(agency)s"),
            body=gettext_lazy(
                "%(supervisor)s, supervisor at %(agency)s, asks the platform to reinstate the "
                "suspended officer %(officer)s (%(email)s).\n\n"
                "Reason given: %(reason)s\n\n"
                "Reinstating needs the same checks as approving: %(url)s\n"
            ),
            params={
                "supervisor": supervisor.user.full_name,
                "agency": supervisor.agency.name,
                "officer": locked.user.full_name,
                "email": locked.user.email,
                "reason": reason,
                "url": _officer_page_url(locked),
            },
        )
    return locked


def officer_vouch(*, officer: Officer, actor: User, note: str = "") -> OfficerVouch:
    """Vouch that a registering officer works for the supervisor's agency.

    Evidence for the vetting administrator, who still approves; it replaces the officer's
    own callback while the supervisor's callback is recent (``accounts.selectors``).
    """
    supervisor = _require_supervisor(actor)
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise SupervisionRefused(
            _("Keep the note under %(max)d characters.") % {"max": NOTE_MAX_LENGTH}
        )
    with transaction.atomic():
        locked = _lock_supervised(supervisor=supervisor, officer=officer)
        if locked.status != Officer.Status.PENDING:
            raise SupervisionRefused(
                _("Only a registration waiting for vetting can be vouched for.")
            )
        if OfficerVouch.objects.filter(officer=locked, supervisor=supervisor).exists():
            raise SupervisionRefused(_("You have already vouched for this officer."))
        try:
            with transaction.atomic():
                vouch = OfficerVouch.objects.create(
                    officer=locked, supervisor=supervisor, vouched_at=timezone.now(), note=note
                )
        except IntegrityError:
            raise SupervisionRefused(_("You have already vouched for this officer.")) from None
        own_call = confirmed_callback(agency=supervisor.agency, officer=supervisor)
        audit_append(
            actor=actor,
            action="officer.vouched",
            target=locked,
            data={
                "vouch_id": vouch.pk,
                "by_supervisor": supervisor.pk,
                "note": note,
                "supervisor_callback_id": own_call.pk if own_call else None,
                "supervisor_callback_at": own_call.called_at if own_call else None,
            },
        )
    return vouch


def agency_key_revoke(
    *,
    key: SigningKey | SigningPasskey | AgeRecipient,
    actor: User,
    reason: str,
    from_states: Collection[str] = REVOCABLE,
) -> SigningKey | SigningPasskey | AgeRecipient:
    """Revoke a key of the supervisor's agency (pending or active), through the one routine."""
    supervisor = _require_supervisor(actor)
    owner = key.officer
    owner_agency = owner.agency_id if owner is not None else getattr(key, "agency_id", None)
    if owner_agency != supervisor.agency_id:
        raise PermissionDenied
    try:
        # One call per kind: key_revoke is generic over the three (the one revoke routine).
        if isinstance(key, SigningKey):
            return key_revoke(key=key, actor=actor, reason=reason, from_states=from_states)
        if isinstance(key, SigningPasskey):
            return key_revoke(key=key, actor=actor, reason=reason, from_states=from_states)
        return key_revoke(key=key, actor=actor, reason=reason, from_states=from_states)
    except KeyRefused as refused:
        raise SupervisionRefused(refused.message) from None


def agency_token_revoke(*, token: ApiToken, actor: User, reason: str) -> ApiToken:
    """Revoke an API token of an officer of the supervisor's agency, at once."""
    supervisor = _require_supervisor(actor)
    reason = _clean_reason(reason)
    if token.officer.agency_id != supervisor.agency_id:
        raise PermissionDenied
    try:
        return api_token_revoke(token=token, actor=actor, reason=reason)
    except TokenRefused as refused:
        raise SupervisionRefused(refused.message) from None
