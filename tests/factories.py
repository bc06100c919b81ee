"""Builders for test data: each returns a saved object with sensible defaults."""

import hashlib
import json
import secrets
import time
from itertools import count

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Agency, AgencyDomain, Officer, Role, User

PASSWORD = "correct horse battery staple"
_numbers = count(1)


def make_user(
    *, role: str = Role.REVIEWER, email: str | None = None, totp: bool = True, **fields
) -> User:
    """A user with the test password and, unless ``totp=False``, a confirmed TOTP app."""
    number = next(_numbers)
    user = User.objects.create_user(
        email or f"person{number}@platform.example",
        PASSWORD,
        full_name=fields.pop("full_name", f"Person {number}"),
        role=role,
        **fields,
    )
    if totp:
        TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user


def totp_code(user: User, *, offset_steps: int = 0, device: TOTPDevice | None = None) -> str:
    """The code the user's authenticator app shows now (or ``offset_steps`` later).

    ``device`` picks another of the user's TOTP devices (a pending one) than the confirmed.
    """
    device = device or TOTPDevice.objects.get(user=user, confirmed=True)
    at = int(time.time()) + offset_steps * device.step
    return f"{_totp_at(device, at):06d}"


def _totp_at(device: TOTPDevice, at: int) -> int:
    from django_otp.oath import TOTP

    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = at
    return generator.token()


def make_agency(
    *,
    country: str = "DE",
    domain: str | None = None,
    status: str = Agency.Status.VERIFIED,
    **fields,
) -> Agency:
    number = next(_numbers)
    agency = Agency.objects.create(
        name=fields.pop("name", f"Agency {number}"),
        country=country,
        kind=fields.pop("kind", Agency.Kind.POLICE),
        callback_phone=fields.pop("callback_phone", "+4930123456"),
        status=status,
        verified_at=timezone.now() if status == Agency.Status.VERIFIED else None,
        **fields,
    )
    AgencyDomain.objects.create(agency=agency, domain=domain or f"agency{number}.example")
    return agency


def make_officer(
    *, agency: Agency | None = None, status: str = Officer.Status.ACTIVE, **fields
) -> Officer:
    agency = agency or make_agency()
    domain = agency.domains.first().domain
    number = next(_numbers)
    user = make_user(
        role=Role.OFFICER, email=fields.pop("email", f"officer{number}@{domain}"), **fields
    )
    return Officer.objects.create(
        user=user,
        agency=agency,
        title="Inspector",
        badge_number=f"B-{number}",
        status=status,
        email_verified_at=timezone.now(),
    )


def make_supervisor(
    *,
    agency: Agency | None = None,
    status: str = Officer.Status.ACTIVE,
    callback_days_ago: float | None = 1,
    **fields,
) -> Officer:
    """An agency supervisor (their ``Officer`` row) with a TOTP app and, unless
    ``callback_days_ago=None``, a confirmed callback about them that many days old."""
    from datetime import timedelta

    record = make_officer(agency=agency, status=status, **fields)
    record.user.role = Role.SUPERVISOR
    record.user.save(update_fields=["role"])
    if callback_days_ago is not None:
        make_callback(
            agency=record.agency,
            called_by=make_vetting_admin(),
            officer=record,
            called_at=timezone.now() - timedelta(days=callback_days_ago),
        )
    return record


def log_in(client, user: User) -> None:
    """Log in through the real pages: password, then a TOTP code."""
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    response = client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    assert response.status_code == 302, response.content


class SoftPasskey:
    """A software authenticator: makes and uses a P-256 passkey as a browser would.

    It answers django-otp-webauthn's options with real WebAuthn structures (attestation
    "none", ES256 assertions), so tests exercise the server's full verification.
    """

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.sign_count = 0

    @staticmethod
    def rp_id() -> str:
        from django.conf import settings

        return settings.OTP_WEBAUTHN_RP_ID

    @staticmethod
    def origin() -> str:
        from django.conf import settings

        return settings.OTP_WEBAUTHN_ALLOWED_ORIGINS[0]

    def cose_public_key(self) -> bytes:
        import cbor2

        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        document = {"type": kind, "challenge": challenge, "origin": self.origin()}
        return json.dumps({**document, "crossOrigin": False}).encode()

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(self.rp_id().encode()).digest()
        return rp_hash + bytes([flags]) + self.sign_count.to_bytes(4, "big") + attested

    def registration_response(self, options: dict) -> dict:
        """The browser's answer to ``navigator.credentials.create`` with these options."""
        import cbor2
        from webauthn.helpers import bytes_to_base64url as b64

        attested = (
            bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
        ) + self.cose_public_key()
        auth_data = self._auth_data(0x45, attested)  # user present, verified, attested data
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(self._client_data("webauthn.create", options["challenge"])),
                "attestationObject": b64(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def assertion_response(self, options: dict) -> dict:
        """The browser's answer to ``navigator.credentials.get`` with these options."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from webauthn.helpers import bytes_to_base64url as b64

        self.sign_count += 1
        auth_data = self._auth_data(0x05)  # user present and verified
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
            },
            "clientExtensionResults": {},
        }

    def store_for(self, user: User):
        """Save this passkey as ``user``'s credential directly (no ceremony, no audit)."""
        from django_otp_webauthn.models import WebAuthnCredential

        return WebAuthnCredential.objects.create(
            user=user,
            name="Test passkey",
            credential_id=self.credential_id,
            public_key=self.cose_public_key(),
            sign_count=self.sign_count,
            transports=["internal"],
            discoverable=True,
        )


def passkey_register(client, passkey: SoftPasskey):
    """Run the registration ceremony through the portal's endpoints; return the last answer."""
    begin = client.post("/webauthn/registration/begin/")
    if begin.status_code != 200:
        return begin
    return client.post(
        "/webauthn/registration/complete/",
        passkey.registration_response(begin.json()),
        content_type="application/json",
    )


def passkey_verify(client, passkey: SoftPasskey, *, next_url: str = ""):
    """Run the passkey step of login through the portal's endpoints; return the last answer."""
    begin = client.post("/webauthn/authentication/begin/")
    if begin.status_code != 200:
        return begin
    url = "/webauthn/authentication/complete/" + (f"?next={next_url}" if next_url else "")
    return client.post(
        url, passkey.assertion_response(begin.json()), content_type="application/json"
    )


# --- Vetting: administrators, callbacks, keys, tokens ---------------------------------------


def make_vetting_admin(**fields) -> User:
    """A vetting administrator with a confirmed TOTP app."""
    return make_user(role=Role.VETTING_ADMIN, **fields)


def make_callback(
    *,
    agency,
    called_by: User,
    officer=None,
    outcome: str = "confirmed",
    number: str | None = None,
    note: str = "",
    called_at=None,
    number_source: str = "The agency's official website, contact page.",
    key=None,
):
    """A recorded callback, by default to the agency's number on file, confirmed, now.

    It says where the number was found (a call to an agency never verified counts only
    then); ``key`` is the key it was about, if any.
    """
    from accounts.models import CallbackCheck
    from accounts.services.keys import KEY_ENTITIES

    return CallbackCheck.objects.create(
        agency=agency,
        officer=officer,
        number_called=number or agency.callback_phone,
        number_source=number_source,
        called_by=called_by,
        called_at=called_at or timezone.now(),
        outcome=outcome,
        note=note,
        **({KEY_ENTITIES[type(key)]: key} if key is not None else {}),
    )


def make_passkey(user: User):
    """A confirmed passkey credential for ``user`` (stored directly, no ceremony)."""
    return SoftPasskey().store_for(user)


def make_signing_passkey(*, officer, passkey: SoftPasskey | None = None, status: str = "active"):
    """An officer's passkey and its signing-key record in ``status`` (stored directly).

    Returns the ``SigningPasskey``; its ``credential`` is the stored WebAuthn credential.
    """
    from accounts.models import SigningPasskey
    from accounts.services.keys import passkey_key_id, passkey_public_key_sha256

    credential = (passkey or SoftPasskey()).store_for(officer.user)
    return SigningPasskey.objects.create(
        officer=officer,
        credential=credential,
        key_id=passkey_key_id(bytes(credential.credential_id)),
        public_key_sha256=passkey_public_key_sha256(credential),
        status=status,
    )


def make_signing_key(*, officer, status: str = "pending", **fields):
    """An officer's Ed25519 signing key with a fresh key pair; returns the stored key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from accounts.models import SigningKey
    from portal.crypto import ed25519_key_id, ed25519_public_key_pem

    public = Ed25519PrivateKey.generate().public_key()
    return SigningKey.objects.create(
        officer=officer,
        public_key_pem=ed25519_public_key_pem(public),
        key_id=ed25519_key_id(public),
        status=status,
        **fields,
    )


def make_age_recipient(*, officer=None, agency=None, status: str = "pending", **fields):
    """An age X25519 recipient of an officer (or of an agency) with a fresh identity."""
    import pyrage

    from accounts.models import AgeRecipient

    return AgeRecipient.objects.create(
        officer=officer,
        agency=agency,
        recipient=str(pyrage.x25519.Identity.generate().to_public()),
        status=status,
        **fields,
    )


def make_api_token(*, officer, name: str = "Case system") -> tuple:
    """A live API token of an active officer, made by the real service: (token, secret)."""
    from accounts.services.tokens import api_token_create

    created = api_token_create(officer=officer, actor=officer.user, name=name)
    return created.token, created.secret


def registration_form(*, agency: Agency | str | None = None, **fields) -> dict[str, str]:
    """The fields of a valid /register/ form for an officer of ``agency`` (or a proposal).

    For a proposal pass ``agency="new"``, ``email`` and the ``new_agency_*`` fields.
    """
    data = {
        "full_name": "Anna Schmidt",
        "title": "Detective Inspector",
        "badge_number": "B-4711",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    if isinstance(agency, Agency):
        data["agency"] = str(agency.pk)
        data["email"] = f"anna.schmidt@{agency.domains.first().domain}"
    elif agency is not None:
        data["agency"] = agency
    data.update({key: str(value) for key, value in fields.items()})
    return data


def mailbox_link_path(message) -> str:
    """The path of the mailbox link in an email (``/register/verify/<token>/``)."""
    import re
    from urllib.parse import urlsplit

    found = re.findall(r"https?://\S+/register/verify/[^/\s]+/", message.body)
    assert len(found) == 1, message.body
    return urlsplit(found[0]).path
