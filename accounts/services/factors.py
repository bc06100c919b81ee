"""Second factors: TOTP apps, backup codes and passkeys (django-otp devices).

Every change of a user's factors is audited and told to the user by email, so that a
change made by someone else does not go unnoticed.
"""

import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from portal.audit import audit_append
from portal.crypto import TotpSeedUnreadable

from ..models import AGENCY_ROLES, KeyStatus, Officer, Role, SigningPasskey, User
from ..preferences import recipient_locale
from .keys import KeyRefused, signing_passkey_enrol, signing_passkey_revoke_locked

logger = logging.getLogger(__name__)

BACKUP_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"  # stored as the device name: not translated
BACKUP_NAME = "Backup codes"  # stored as the device name: not translated
MAX_REASON_LENGTH = 2000


class FactorRefused(Exception):
    """A change of second factors the portal will not make; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FactorChange(StrEnum):
    """A change of a user's second factors; the notice email says which, as one sentence."""

    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    TOTP_ADDED = "totp_added"
    BACKUP_CODES_MADE = "backup_codes_made"


FACTOR_CHANGE_SUBJECTS: dict[FactorChange, Promise] = {
    FactorChange.PASSKEY_ADDED: gettext_lazy(
        "A passkey was added to your authority portal account"
    ),
    FactorChange.PASSKEY_REMOVED: gettext_lazy(
        "A passkey was removed from your authority portal account"
    ),
    FactorChange.TOTP_ADDED: gettext_lazy(
        "A new authenticator app was set up for your authority portal account"
    ),
    FactorChange.BACKUP_CODES_MADE: gettext_lazy(
        "New backup codes were made for your authority portal account"
    ),
}


def factor_change_notify(*, user: User, change: FactorChange) -> None:
    """Email the user about a change of their factors, once the change commits.

    It says what changed and when, and what to do if it was not them; it carries no link
    to follow and nothing secret.
    """
    with recipient_locale(user):
        body = render_to_string(
            "accounts/email/factor_changed.txt",
            {
                "change": str(change),
                "at": timezone.now(),
                "officer": user.role == Role.OFFICER,
                "factors_url": settings.PORTAL_AUDIENCE + reverse("factors"),
            },
        )
        subject = str(FACTOR_CHANGE_SUBJECTS[change])
    message = EmailMessage(subject=subject, body=body, to=[user.email])
    # robust: a mail server failure must not undo or hide a change that was made.
    transaction.on_commit(partial(message.send), robust=True)


@dataclass(frozen=True)
class FactorSummary:
    totp: bool
    passkeys: int
    backup_codes_left: int

    def complete_for(self, user: User) -> bool:
        """Officers and supervisors need a passkey and a TOTP app; platform staff need either."""
        if user.role in AGENCY_ROLES:
            return self.totp and self.passkeys > 0
        return self.totp or self.passkeys > 0

    @property
    def any(self) -> bool:
        return self.totp or self.passkeys > 0 or self.backup_codes_left > 0


def factor_summary(*, user: User) -> FactorSummary:
    return FactorSummary(
        totp=TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        passkeys=WebAuthnCredential.objects.filter(user=user, confirmed=True).count(),
        backup_codes_left=StaticToken.objects.filter(
            device__user=user, device__confirmed=True
        ).count(),
    )


def totp_device_pending(*, user: User) -> TOTPDevice:
    """Return the user's unconfirmed TOTP device, creating one with a fresh secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_confirm(*, user: User, device: TOTPDevice, token: str) -> bool:
    """Confirm a pending TOTP device with a code from the app; audit it.

    The device row is locked before the code is checked, so one code sent by several
    sessions at once confirms the device once (django-otp records the used time step).
    """
    with transaction.atomic():
        pending = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device.pk, user=user, confirmed=False)
            .first()
        )
        if pending is None or not pending.verify_token(token.strip()):
            return False
        device.refresh_from_db()
        # One TOTP app per person: a new one replaces the old.
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_append(actor=user, action="second_factor.added", target=user, data={"type": "totp"})
    return True


def backup_codes_generate(*, user: User, notify: bool = True) -> list[str]:
    """Replace the user's backup codes with new ones; return them (shown once).

    ``notify=False`` when the codes come with a new authenticator app, whose own notice
    says so.
    """
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=BACKUP_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
        audit_append(
            actor=user,
            action="second_factor.backup_codes_generated",
            target=user,
            data={"count": len(codes)},
        )
        if notify:
            factor_change_notify(user=user, change=FactorChange.BACKUP_CODES_MADE)
    return codes


def second_factor_check(*, user: User, method: str, token: str) -> Any:
    """Return the device that accepts ``token`` for ``method`` (totp or backup), or None.

    django-otp refuses a TOTP code already used (it remembers the last time step) and
    consumes a backup code; its own per-device throttling also applies. The user's devices
    of that kind are locked before they are read (django-otp's ``for_verify``), so one code
    sent by several sessions at once passes once: each check sees what the one before it
    recorded.
    """
    kinds = {"totp": TOTPDevice, "backup": StaticDevice}
    device_class = kinds.get(method)
    token = (token or "").strip().replace(" ", "")
    if device_class is None or not token:
        return None
    with transaction.atomic():
        devices = (
            device_class.objects.devices_for_user(user, confirmed=True)
            .select_for_update()
            .order_by("pk")
        )
        for device in devices:
            allowed, _ = device.verify_is_allowed()
            try:
                if allowed and device.verify_token(token):
                    return device
            except TotpSeedUnreadable:
                # A seed that does not open under the portal's key (copied from another
                # user's row, planted in plain hex): no code can match it.
                logger.error("TOTP device %s: its stored seed does not open", device.pk)
    return None


class PasskeyKeptOnRecord(webauthn_errors.OTPWebAuthnApiError):
    status_code = 409
    default_code = "passkey_kept_on_record"
    default_detail = gettext_lazy("This passkey was registered before and is kept on record.")


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's ceremonies under the portal's rules.

    A new passkey is saved with its audit event in one transaction; an officer's also
    gets its signing-key record, pending an administrator's approval, and the user is
    told by email. A passkey logs in as a second factor: it answers for the user who
    already gave their password, and a credential of anyone else is refused (the package
    checks; so do we, at the grant).
    """

    def register_complete(self, user: Any, state: dict, data: dict) -> WebAuthnCredential:
        with transaction.atomic():
            credential = super().register_complete(user=user, state=state, data=data)
            audit_append(
                actor=user,
                action="second_factor.added",
                target=user,
                data={"type": "passkey", "credential": credential.pk},
            )
            # A supervisor signs nothing: only an officer's passkey becomes a signing key.
            officer = Officer.objects.filter(user=user, user__role=Role.OFFICER).first()
            if officer is not None:
                try:
                    signing_passkey_enrol(officer=officer, credential=credential)
                except KeyRefused as refusal:
                    raise PasskeyKeptOnRecord(detail=refusal.message) from None
            factor_change_notify(user=user, change=FactorChange.PASSKEY_ADDED)
        return credential

    def authenticate_complete(self, user: Any, state: dict, data: dict) -> WebAuthnCredential:
        if user is None or not user.is_authenticated:
            raise webauthn_errors.PasswordlessLoginDisabled()
        credential = super().authenticate_complete(user=user, state=state, data=data)
        passkey_check_owner(user=user, credential=credential)
        return credential


def passkey_check_owner(*, user: User, credential: WebAuthnCredential) -> None:
    """Refuse a passkey that is not the logged-in user's own, confirmed and active."""
    if credential.user_id != user.pk:
        raise webauthn_errors.CredentialUserMismatch()
    if not credential.confirmed:
        raise webauthn_errors.CredentialDisabled()


# --- Removing a passkey -----------------------------------------------------------------


def passkeys_of_user(*, user: User) -> list[WebAuthnCredential]:
    """The user's confirmed passkeys, oldest first."""
    return list(WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("pk"))


def passkey_get_for_user(*, user: User, credential_pk: int) -> WebAuthnCredential | None:
    """Return one of the user's own confirmed passkeys; another's is ``None`` like none."""
    return WebAuthnCredential.objects.filter(pk=credential_pk, user=user, confirmed=True).first()


def passkey_remove(*, user: User, credential: WebAuthnCredential, reason: str) -> None:
    """Remove one of the user's passkeys: it no longer logs in, nor signs anything.

    An officer's signing passkey is revoked with the reason and kept on record (the
    credential goes; the record of the key that signed earlier requests stays). The last
    login factor is never removed: the account would then take a password alone.
    """
    reason = (reason or "").strip()
    if not reason:
        raise FactorRefused(gettext("Say why the passkey is removed; the reason is kept."))
    if len(reason) > MAX_REASON_LENGTH:
        raise FactorRefused(
            gettext("The reason can be at most %(count)d characters.")
            % {"count": MAX_REASON_LENGTH}
        )
    with transaction.atomic():
        locked = (
            WebAuthnCredential.objects.select_for_update()
            .filter(pk=credential.pk, user=user, confirmed=True)
            .first()
        )
        if locked is None:
            raise FactorRefused(gettext("This passkey is already removed."))
        others = WebAuthnCredential.objects.filter(user=user, confirmed=True).exclude(pk=locked.pk)
        has_totp = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        if not others.exists() and not has_totp:
            raise FactorRefused(
                gettext(
                    "This is your only second factor. Add an authenticator app or another "
                    "passkey first."
                )
            )
        signing = SigningPasskey.objects.select_for_update().filter(credential=locked).first()
        if signing is not None and signing.status in (KeyStatus.PENDING, KeyStatus.ACTIVE):
            signing_passkey_revoke_locked(key=signing, actor=user, reason=reason)
        audit_append(
            actor=user,
            action="second_factor.removed",
            target=user,
            data={
                "type": "passkey",
                "credential": locked.pk,
                "key_id": signing.key_id if signing is not None else "",
                "reason": reason,
            },
        )
        locked.delete()
        factor_change_notify(user=user, change=FactorChange.PASSKEY_REMOVED)
