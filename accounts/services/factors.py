"""Second factors: TOTP apps, backup codes and passkeys (django-otp devices)."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from portal.audit import audit_append

from ..models import Role, User

BACKUP_CODE_COUNT = 10
TOTP_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"


@dataclass(frozen=True)
class FactorSummary:
    totp: bool
    passkeys: int
    backup_codes_left: int

    def complete_for(self, user: User) -> bool:
        """Officers need a passkey and a TOTP app; platform staff need either."""
        if user.role == Role.OFFICER:
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
    """Confirm a pending TOTP device with a code from the app; audit it."""
    if device.user_id != user.pk or device.confirmed:
        return False
    if not device.verify_token(token.strip()):
        return False
    with transaction.atomic():
        # One TOTP app per person: a new one replaces the old.
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_append(actor=user, action="second_factor.added", target=user, data={"type": "totp"})
    return True


def backup_codes_generate(*, user: User) -> list[str]:
    """Replace the user's backup codes with new ones; return them (shown once)."""
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
    return codes


def second_factor_check(*, user: User, method: str, token: str) -> Any:
    """Return the device that accepts ``token`` for ``method`` (totp or backup), or None.

    django-otp refuses a TOTP code already used (it remembers the last time step) and
    consumes a backup code; its own per-device throttling also applies.
    """
    kinds = {"totp": TOTPDevice, "backup": StaticDevice}
    device_class = kinds.get(method)
    token = (token or "").strip().replace(" ", "")
    if device_class is None or not token:
        return None
    for device in devices_for_user(user, confirmed=True):
        if not isinstance(device, device_class):
            continue
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            return device
    return None


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's ceremonies under the portal's rules.

    A new passkey is saved with its audit event in one transaction. A passkey is only
    ever a second factor: it answers for the user who already gave their password, and
    a credential of anyone else is refused (the package checks; so do we, at the grant).
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
