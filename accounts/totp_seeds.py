"""TOTP seeds sealed at rest: django-otp's TOTPDevice reads its seed through the portal.

django-otp keeps the seed of an authenticator app in ``TOTPDevice.key`` (hex) and reads
it only through the ``bin_key`` property (code checks, the otpauth:// address). The portal
seals the seed before a device is saved (``pre_save``) and opens it in ``bin_key``, so the
column holds only ciphertext under a key outside the database (``portal.crypto``,
TOTP_SEED_KEY_FILE); migration 0004 sealed the seeds stored before. ``install`` runs in
``AccountsConfig.ready``: one property and one signal, no model of our own.

A saved device whose column holds a plain hex seed is refused, not read: whoever can
write to the database must not be able to plant a seed they know.
"""

from binascii import unhexlify
from typing import Any

from django.db.models.signals import pre_save
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.crypto import TotpSeedUnreadable, totp_seed_is_sealed, totp_seed_open, totp_seed_seal


def device_seed(device: TOTPDevice) -> bytes:
    """The device's seed: opened from its sealed form, or a new device's own plain seed."""
    if totp_seed_is_sealed(device.key):
        return totp_seed_open(device.key, user_id=device.user_id)
    if device._state.adding:
        return unhexlify(device.key.encode())  # not saved yet: sealed by the first save
    raise TotpSeedUnreadable("A stored TOTP seed is not sealed; it is refused.")


def seal_before_save(sender: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    if not totp_seed_is_sealed(instance.key):
        instance.key = totp_seed_seal(unhexlify(instance.key.encode()), user_id=instance.user_id)


def install() -> None:
    TOTPDevice.bin_key = property(device_seed)  # type: ignore[assignment,method-assign]
    pre_save.connect(seal_before_save, sender=TOTPDevice, dispatch_uid="portal_totp_seed_seal")
