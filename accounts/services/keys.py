"""Officers' keys: Ed25519 signing keys, signing passkeys and age recipients (PROTOCOL §1).

An officer enrols a key; it waits ``pending`` until a vetting administrator compares its
fingerprint with the officer (by phone) and approves it. The officer may revoke their
own key at any time. Keys are never deleted: old signatures and sealed files stay
explainable, and a revoked key cannot be enrolled again.

A passkey is a login factor from the moment it is registered, but it signs web-channel
submissions only once its ``SigningPasskey`` row is approved like any other key: a
phished password and one live code are enough to register a passkey, and must not be
enough to sign requests.

The ``*_get_for_officer`` functions are the one way a view reaches a key: another
officer's key is "not found", never "forbidden".
"""

import base64
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from portal import crypto
from portal.audit import audit_append

from ..models import (
    Agency,
    AgeRecipient,
    KeyStatus,
    Officer,
    SigningKey,
    SigningPasskey,
    User,
)

MAX_LABEL_LENGTH = 120
MAX_REASON_LENGTH = 2000
PASSKEY_KEY_ID_PREFIX = "webauthn:"
# The states from which a key may be revoked, by who revokes it: its owner may also take
# back a key still waiting for approval; a vetting administrator revokes approved ones
# (a pending key is rejected instead).
REVOCABLE = frozenset({KeyStatus.PENDING, KeyStatus.ACTIVE})
REVOCABLE_BY_VETTING = frozenset({KeyStatus.ACTIVE})
# The audit entity of each kind of key: actions are "<entity>.approved", ".revoked", ...
KEY_ENTITIES: Final[Mapping[type, str]] = {
    SigningKey: "signing_key",
    SigningPasskey: "signing_passkey",
    AgeRecipient: "age_recipient",
}


class KeyRefused(Exception):
    """A key the portal will not enrol or a change it will not make; the message says why.

    ``field`` names the form field the refusal is about ("" for the whole form).
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class KeyNotFound(Exception):
    """No such key among the officer's own."""


class KeyOrigin(StrEnum):
    """How an age recipient reached the portal, recorded in the audit event."""

    PASTED = "pasted"
    BROWSER = "browser"


def _clean_label(label: str) -> str:
    label = " ".join((label or "").split())
    if len(label) > MAX_LABEL_LENGTH:
        raise KeyRefused(
            gettext("The label can be at most %(count)d characters.") % {"count": MAX_LABEL_LENGTH},
            field="label",
        )
    return label


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise KeyRefused(gettext("Say why the key is revoked; the reason is kept."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise KeyRefused(
            gettext("The reason can be at most %(count)d characters.")
            % {"count": MAX_REASON_LENGTH},
            field="reason",
        )
    return reason


# --- Signing keys ------------------------------------------------------------------------


def signing_keys_of_officer(*, officer: Officer) -> QuerySet[SigningKey]:
    return SigningKey.objects.filter(officer=officer).order_by("-created_at", "-pk")


def signing_key_get_for_officer(*, officer: Officer, key_pk: int) -> SigningKey:
    """Return one of the officer's own signing keys, or raise ``KeyNotFound``."""
    key = SigningKey.objects.filter(
        pk=key_pk,
        officer=officer,
    ).first()
    if key is None:
        raise KeyNotFound
    return key


def signing_key_enrol(
    *, officer: Officer, actor: User, public_key_pem: str, label: str = ""
) -> SigningKey:
    """Enrol a PEM Ed25519 public key for the officer, pending approval.

    Refuses private keys, other algorithms, anything that is not exactly one PEM public
    key, and a key already enrolled by anyone (in any state: a revoked key stays
    revoked).
    """
    label = _clean_label(label)
    try:
        public_key = crypto.ed25519_public_key_from_pem(public_key_pem)
    except crypto.InvalidKey as exc:
        raise KeyRefused(str(exc), field="public_key") from exc
    key_id = crypto.ed25519_key_id(public_key)

    with transaction.atomic():
        existing = SigningKey.objects.filter(key_id=key_id).first()
        if existing is not None:
            raise KeyRefused(_duplicate_message(existing, officer), field="public_key")
        try:
            with transaction.atomic():
                key = SigningKey.objects.create(
                    officer=officer,
                    label=label,
                    public_key_pem=crypto.ed25519_public_key_pem(public_key),
                    key_id=key_id,
                )
        except IntegrityError as exc:  # the same key, enrolled at the same moment
            raise KeyRefused(gettext("This key is already enrolled."), field="public_key") from exc
        audit_append(
            actor=actor,
            action="signing_key.enrolled",
            target=key,
            data={
                "officer_id": officer.pk,
                "key_id": key_id,
                "label": label,
                "status": key.status,
            },
        )
    return key


def _duplicate_message(existing: SigningKey, officer: Officer) -> str:
    if existing.officer_id != officer.pk:
        return gettext("This key is already enrolled. Each officer makes and enrols their own key.")
    if existing.status in (KeyStatus.REVOKED, KeyStatus.REJECTED):
        return gettext(
            "You enrolled this key before and it was %(status)s. "
            "A key is never enrolled again: make a new one."
        ) % {"status": existing.get_status_display().lower()}
    return gettext("You have already enrolled this key.")


# --- Signing passkeys ----------------------------------------------------------------------


def passkey_key_id(credential_id: bytes) -> str:
    """Return ``webauthn:`` + base64url (unpadded) credential id (PROTOCOL §1)."""
    encoded = base64.urlsafe_b64encode(credential_id).rstrip(b"=").decode("ascii")
    return PASSKEY_KEY_ID_PREFIX + encoded


def passkey_public_key_sha256(credential: Any) -> str:
    """Return the hex SHA-256 of a credential's stored COSE public key: its fingerprint."""
    return crypto.sha256_hex(bytes(credential.public_key))


def signing_passkeys_of_officer(*, officer: Officer) -> QuerySet[SigningPasskey]:
    return SigningPasskey.objects.filter(officer=officer).order_by("-created_at", "-pk")


def signing_passkeys_of_credentials(*, credentials: list[Any]) -> dict[int, SigningPasskey]:
    """Map each of these (the caller's own) credentials' pk to its signing record, if any."""
    keys = SigningPasskey.objects.filter(credential__in=credentials)
    return {key.credential_id: key for key in keys if key.credential_id is not None}


def signing_passkey_enrol(*, officer: Officer, credential: Any) -> SigningPasskey:
    """Record an officer's newly registered passkey as a signing key, pending approval.

    Runs inside the registration's transaction. A credential id seen before (a passkey
    that was removed or revoked, registered again) is refused: it stays on record as it is.
    """
    key_id = passkey_key_id(bytes(credential.credential_id))
    if SigningPasskey.objects.filter(key_id=key_id).exists():
        raise KeyRefused(
            gettext("This passkey was registered before and is kept on record. Make a new passkey.")
        )
    key = SigningPasskey.objects.create(
        officer=officer,
        credential=credential,
        key_id=key_id,
        public_key_sha256=passkey_public_key_sha256(credential),
        label=" ".join((credential.name or "").split())[:MAX_LABEL_LENGTH],
    )
    audit_append(
        actor=officer.user,
        action="signing_passkey.enrolled",
        target=key,
        data={
            "officer_id": officer.pk,
            "key_id": key_id,
            "public_key_sha256": key.public_key_sha256,
            "credential": credential.pk,
            "status": key.status,
        },
    )
    return key


# --- Age recipients ----------------------------------------------------------------------


def age_recipients_of_officer(*, officer: Officer) -> QuerySet[AgeRecipient]:
    return AgeRecipient.objects.filter(officer=officer).order_by("-created_at", "-pk")


def age_recipient_get_for_officer(*, officer: Officer, recipient_pk: int) -> AgeRecipient:
    """Return one of the officer's own age recipients, or raise ``KeyNotFound``."""
    recipient = AgeRecipient.objects.filter(
        pk=recipient_pk,
        officer=officer,
    ).first()
    if recipient is None:
        raise KeyNotFound
    return recipient


def age_recipient_enrol(
    *,
    officer: Officer,
    actor: User,
    recipient: str,
    label: str = "",
    origin: KeyOrigin = KeyOrigin.PASTED,
) -> AgeRecipient:
    """Enrol an age X25519 recipient (``age1...``) for the officer, pending approval.

    ``origin`` records whether it was pasted or generated in the officer's browser; the
    portal cannot tell, and never sees the identity either way.
    """
    label = _clean_label(label)
    try:
        normalised = crypto.age_recipient_normalise(recipient)
    except crypto.InvalidKey as exc:
        raise KeyRefused(str(exc), field="recipient") from exc

    with transaction.atomic():
        existing = AgeRecipient.objects.filter(officer=officer, recipient=normalised).first()
        if existing is not None:
            raise KeyRefused(_duplicate_recipient_message(existing), field="recipient")
        try:
            with transaction.atomic():
                enrolled = AgeRecipient.objects.create(
                    officer=officer, label=label, recipient=normalised
                )
        except IntegrityError as exc:
            raise KeyRefused(
                gettext("You have already enrolled this recipient."), field="recipient"
            ) from exc
        audit_append(
            actor=actor,
            action="age_recipient.enrolled",
            target=enrolled,
            data={
                "officer_id": officer.pk,
                "recipient": normalised,
                "label": label,
                "origin": str(origin),
                "status": enrolled.status,
            },
        )
    return enrolled


def _duplicate_recipient_message(existing: AgeRecipient) -> str:
    if existing.status in (KeyStatus.REVOKED, KeyStatus.REJECTED):
        return gettext(
            "You enrolled this recipient before and it was %(status)s. Make a new key pair."
        ) % {"status": existing.get_status_display().lower()}
    return gettext("You have already enrolled this recipient.")


# --- Revoking, one routine for every kind of key and whoever revokes ----------------------


def key_identity(key: SigningKey | SigningPasskey | AgeRecipient) -> dict[str, object]:
    """What names a key in its audit events: its key id, or the age recipient."""
    if isinstance(key, AgeRecipient):
        return {"recipient": key.recipient}
    return {"key_id": key.key_id}


def key_owner_data(key: SigningKey | SigningPasskey | AgeRecipient) -> dict[str, object]:
    """The key's owner in its audit events: the officer, or the agency of an agency key."""
    if key.officer_id is not None:
        return {"officer_id": key.officer_id}
    return {"agency_id": getattr(key, "agency_id", None)}


def key_owner_lock(*, officer_id: int | None, agency_id: int | None) -> None:
    """Lock the owner's rows (agency, then officer) before the key's own row."""
    if officer_id is not None:
        agency_id = Officer.objects.values_list("agency_id", flat=True).get(pk=officer_id)
    if agency_id is not None:
        Agency.objects.select_for_update().get(pk=agency_id)
    if officer_id is not None:
        Officer.objects.select_for_update().get(pk=officer_id)


def key_revoke_locked[K: (SigningKey, SigningPasskey, AgeRecipient)](
    *, key: K, actor: User, reason: str, from_states: Collection[str]
) -> K:
    """Revoke a key whose row (and owner's rows) the caller has locked; audit it.

    Refused with ``KeyRefused`` unless the key is in one of ``from_states``. The key is
    kept, with who revoked it, when and why, so old signatures stay checkable.
    """
    before = key.status
    if before not in from_states:
        raise KeyRefused(
            gettext("This key is %(status)s: it cannot be revoked.")
            % {"status": key.get_status_display().lower()}
        )
    key.status = KeyStatus.REVOKED
    key.revoked_by = actor
    key.revoked_at = timezone.now()
    key.reason = reason
    key.save(update_fields=["status", "revoked_by", "revoked_at", "reason"])
    audit_append(
        actor=actor,
        action=f"{KEY_ENTITIES[type(key)]}.revoked",
        target=key,
        data={
            "before": {"status": before},
            "after": {"status": key.status},
            "reason": reason,
            **key_identity(key),
            **key_owner_data(key),
        },
    )
    return key


def key_revoke[K: (SigningKey, SigningPasskey, AgeRecipient)](
    *, key: K, actor: User, reason: str, from_states: Collection[str]
) -> K:
    """Revoke ``key`` at once: the one revoke of every kind of key, whoever acts.

    Who may is the caller's check (the owner's pages pass only the owner's keys; the
    vetting services check the administrator); ``from_states`` says from which states.
    """
    reason = _clean_reason(reason)
    with transaction.atomic():
        key_owner_lock(officer_id=key.officer_id, agency_id=getattr(key, "agency_id", None))
        locked = type(key).objects.select_for_update().get(pk=key.pk)
        return key_revoke_locked(key=locked, actor=actor, reason=reason, from_states=from_states)


def signing_key_revoke(*, key: SigningKey, actor: User, reason: str) -> SigningKey:
    """The owner revokes a pending or active signing key of theirs."""
    return key_revoke(key=key, actor=actor, reason=reason, from_states=REVOCABLE)


def age_recipient_revoke(*, recipient: AgeRecipient, actor: User, reason: str) -> AgeRecipient:
    """The owner revokes a pending or active age recipient: nothing new is sealed to it."""
    return key_revoke(key=recipient, actor=actor, reason=reason, from_states=REVOCABLE)


def signing_passkey_revoke_locked(*, key: SigningPasskey, actor: User, reason: str) -> None:
    """Revoke a pending or active signing passkey whose row the caller has locked."""
    key_revoke_locked(key=key, actor=actor, reason=reason, from_states=REVOCABLE)
