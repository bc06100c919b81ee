"""Demonstration data for `make run`. Never loaded in production.

Every demo account logs in with the shared password and a TOTP code computed from the
secret printed by `seed_demo` (e.g. `oathtool --totp -b SECRET`).
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit import audit_append
from portal.crypto import (
    CryptoError,
    age_identity_recipient,
    ed25519_key_id,
    ed25519_private_key_generate,
    ed25519_public_key_pem,
)

from .models import (
    Agency,
    AgencyDomain,
    AgeRecipient,
    ApiToken,
    CallbackCheck,
    KeyStatus,
    Officer,
    Role,
    SigningKey,
    User,
)
from .services.keys import age_recipient_enrol, signing_key_enrol
from .services.tokens import api_token_create, token_hash
from .services.vetting import age_recipient_approve, signing_key_approve

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105  (published on purpose: demo only)

# (name, country, kind, domain, callback phone)
DEMO_AGENCIES = [
    ("Polícia Federal", "BR", Agency.Kind.POLICE, "pf.gov.example.br", "+556120248000"),
    (
        "Central Bureau of Investigation",
        "IN",
        Agency.Kind.POLICE,
        "cbi.gov.example.in",
        "+911124362000",
    ),
    ("Bundeskriminalamt", "DE", Agency.Kind.POLICE, "bka.example.de", "+49611550"),
    ("Parquet de Paris", "FR", Agency.Kind.PROSECUTOR, "justice.example.fr", "+33144325151"),
    (
        "Federal Bureau of Investigation",
        "US",
        Agency.Kind.POLICE,
        "fbi.example.gov",
        "+12023243000",
    ),
]

# (email, name, role, staff, agency country or None, title)
DEMO_PEOPLE = [
    ("reviewer@platform.example", "Rosa Reviewer", Role.REVIEWER, False, None, ""),
    ("second.reviewer@platform.example", "Sam Second", Role.REVIEWER, False, None, ""),
    ("vetting@platform.example", "Vera Vetting", Role.VETTING_ADMIN, True, None, ""),
    ("ana.souza@pf.gov.example.br", "Ana Souza", Role.OFFICER, False, "BR", "Delegada"),
    (
        "lena.fischer@bka.example.de",
        "Lena Fischer",
        Role.OFFICER,
        False,
        "DE",
        "Kriminalkommissarin",
    ),
    (
        "paul.martin@justice.example.fr",
        "Paul Martin",
        Role.OFFICER,
        False,
        "FR",
        "Substitut du procureur",
    ),
    ("raj.kumar@cbi.gov.example.in", "Raj Kumar", Role.OFFICER, False, "IN", "Inspector"),
    ("jane.doe@fbi.example.gov", "Jane Doe", Role.OFFICER, False, "US", "Special Agent"),
    # The supervisor of the Bundeskriminalamt: sees its requests, answers for its officers.
    (
        "klaus.weber@bka.example.de",
        "Klaus Weber",
        Role.SUPERVISOR,
        False,
        "DE",
        "Kriminaldirektor",
    ),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    totp_secret: str


def demo_totp_key(email: str) -> bytes:
    """A fixed 20-byte TOTP key per demo account, so printed secrets stay valid."""
    return hashlib.sha256(f"demo-totp:{email}".encode()).digest()[:20]


def _agency(name: str, country: str, kind: str, domain: str, phone: str, admin: User) -> Agency:
    agency = Agency.objects.filter(country=country, name=name).first()
    if agency is None:
        agency = Agency.objects.create(
            name=name,
            country=country,
            kind=kind,
            callback_phone=phone,
            status=Agency.Status.VERIFIED,
            verified_by=admin,
            verified_at=timezone.now(),
        )
        AgencyDomain.objects.create(agency=agency, domain=domain)
        audit_append(
            actor=admin,
            action="agency.verified",
            target=agency,
            data={"source": "seed_demo", "country": country},
        )
    return agency


def seed_demo_accounts() -> list[DemoLogin]:
    """Create what does not exist yet; return every demo login."""
    if settings.PRODUCTION:
        raise ImproperlyConfigured("seed_demo refuses to run in production mode.")
    users: dict[str, User] = {}
    for email, name, role, staff, _country, _title in DEMO_PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email,
                DEMO_PASSWORD,
                full_name=name,
                role=role,
                # Staff may look at accounts in the admin; no one is a superuser: every
                # change goes through the portal's pages, which audit it.
                is_staff=staff,
            )
            TOTPDevice.objects.create(
                user=user,
                name="Authenticator app",
                confirmed=True,
                key=demo_totp_key(email).hex(),
            )
            audit_append(
                action="account.created",
                target=user,
                data={"email": email, "role": role, "source": "seed_demo"},
            )
        users[email] = user

    admin = users["vetting@platform.example"]
    agencies = {
        country: _agency(name, country, kind, domain, phone, admin)
        for name, country, kind, domain, phone in DEMO_AGENCIES
    }
    for email, _name, _role, _staff, country, title in DEMO_PEOPLE:
        if country is None or Officer.objects.filter(user=users[email]).exists():
            continue
        now = timezone.now()
        officer = Officer.objects.create(
            user=users[email],
            agency=agencies[country],
            title=title,
            badge_number=f"DEMO-{country}-{users[email].pk:04d}",
            status=Officer.Status.ACTIVE,
            email_verified_at=now,
            vetted_by=admin,
            vetted_at=now,
        )
        audit_append(
            actor=admin, action="officer.approved", target=officer, data={"source": "seed_demo"}
        )
        if users[email].role == Role.SUPERVISOR:
            # The call that confirmed the role: it also lets their vouches count for 90 days.
            CallbackCheck.objects.create(
                agency=officer.agency,
                officer=officer,
                number_called=officer.agency.callback_phone,
                called_by=admin,
                called_at=now,
                outcome=CallbackCheck.Outcome.CONFIRMED,
                note="Demo data: the agency confirmed the supervisor.",
            )

    return [
        DemoLogin(
            email, str(Role(role).label), base64.b32encode(demo_totp_key(email)).decode("ascii")
        )
        for email, _n, role, _s, _c, _t in DEMO_PEOPLE
    ]


# --- The demo case system ----------------------------------------------------------------
# One officer's own tools, as an authority keeps them: an Ed25519 signing key, an age
# identity and an API token in a folder only its owner can read. The portal enrols the
# public halves through the same services as the Keys page, and the vetting administrator
# approves them as after a call; the guides' commands then run as printed in that folder
# (docs/submitting-from-a-case-system.md, docs/receiving-a-response.md).

DEMO_CASE_SYSTEM_OFFICER = "ana.souza@pf.gov.example.br"
DEMO_VETTING_ADMIN = "vetting@platform.example"
OWNER_ONLY_DIR = 0o700
OWNER_ONLY_FILE = 0o600


@dataclass(frozen=True)
class DemoCaseSystem:
    """The demo officer's tools: where their files are, and the keys the portal knows."""

    officer: Officer
    directory: Path
    signing_key: SigningKey
    private_key: Ed25519PrivateKey
    recipient: AgeRecipient
    token: ApiToken

    @property
    def files(self) -> dict[str, Path]:
        return {name: self.directory / name for name in DEMO_FILES}


# What the folder holds: the names the guides' commands use.
DEMO_FILES = ("key.pem", "public.pem", "identity.txt", "token", "order.pdf")


def write_owner_only(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` readable and writable by its owner only, atomically."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY_FILE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chmod(partial, OWNER_ONLY_FILE)  # whatever the umask made of it
    os.replace(partial, path)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _private_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=OWNER_ONLY_DIR)
    os.chmod(directory, OWNER_ONLY_DIR)


def _demo_signing_key(
    officer: Officer, admin: User, directory: Path
) -> tuple[Ed25519PrivateKey, SigningKey]:
    """The key in ``key.pem`` if the portal has it approved for the officer, else a new one."""
    pem = _read(directory / "key.pem")
    if pem is not None:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            private = None
        if isinstance(private, Ed25519PrivateKey):
            key = SigningKey.objects.filter(
                officer=officer,
                key_id=ed25519_key_id(private.public_key()),
                status=KeyStatus.ACTIVE,
            ).first()
            if key is not None:
                write_owner_only(directory / "public.pem", key.public_key_pem.encode("ascii"))
                return private, key
    private = ed25519_private_key_generate()
    public_pem = ed25519_public_key_pem(private.public_key())
    key = signing_key_enrol(
        officer=officer, actor=officer.user, public_key_pem=public_pem, label="Demo case system"
    )
    key = signing_key_approve(
        key=key,
        actor=admin,
        fingerprint_confirmed=True,
        note="Demonstration data: the officer's case system, seeded by seed_demo.",
    )
    write_owner_only(
        directory / "key.pem",
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_owner_only(directory / "public.pem", public_pem.encode("ascii"))
    return private, key


def _demo_recipient(officer: Officer, admin: User, directory: Path) -> AgeRecipient:
    """The recipient of ``identity.txt`` if approved for the officer, else a new identity."""
    text = _read(directory / "identity.txt")
    if text is not None:
        try:
            recipient = age_identity_recipient(
                "\n".join(
                    line
                    for line in text.decode("ascii", "replace").splitlines()
                    if not line.startswith("#")
                )
            )
        except CryptoError:
            recipient = ""
        found = AgeRecipient.objects.filter(
            officer=officer, recipient=recipient, status=KeyStatus.ACTIVE
        ).first()
        if found is not None:
            return found
    identity = pyrage.x25519.Identity.generate()
    enrolled = age_recipient_enrol(
        officer=officer,
        actor=officer.user,
        recipient=str(identity.to_public()),
        label="Demo case system",
    )
    approved = age_recipient_approve(
        recipient=enrolled,
        actor=admin,
        fingerprint_confirmed=True,
        note="Demonstration data: the officer's age identity, seeded by seed_demo.",
    )
    created = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    write_owner_only(
        directory / "identity.txt",
        # The form age-keygen writes, so `age-keygen -y identity.txt` reads it too.
        f"# created: {created}\n# public key: {identity.to_public()}\n{identity}\n".encode(),
    )
    return approved


def _demo_token(officer: Officer, directory: Path) -> ApiToken:
    """The token in ``token`` if it still works for the officer, else a new one."""
    text = _read(directory / "token")
    if text is not None:
        secret = text.decode("ascii", "replace").strip()
        found = ApiToken.objects.filter(officer=officer, token_hash=token_hash(secret)).first()
        if found is not None and found.is_usable():
            return found
    created = api_token_create(
        officer=officer, actor=officer.user, name="Demo case system", lifetime_days=90
    )
    write_owner_only(directory / "token", f"{created.secret}\n".encode("ascii"))
    return created.token


def seed_demo_case_system(*, directory: Path, order_pdf: bytes) -> DemoCaseSystem:
    """Give the demo officer a case system: approved keys and a token, in ``directory``.

    Idempotent: files that still match what the portal has approved are kept as they are;
    a missing or stale one (another database, a revoked key, an expired token) is made
    again and approved again.
    """
    if settings.PRODUCTION:
        raise ImproperlyConfigured("seed_demo refuses to run in production mode.")
    officer = Officer.objects.select_related("user", "agency").get(
        user__email=DEMO_CASE_SYSTEM_OFFICER
    )
    admin = User.objects.get(email=DEMO_VETTING_ADMIN)
    _private_directory(directory)
    private, key = _demo_signing_key(officer, admin, directory)
    recipient = _demo_recipient(officer, admin, directory)
    token = _demo_token(officer, directory)
    if _read(directory / "order.pdf") is None:
        write_owner_only(directory / "order.pdf", order_pdf)
    return DemoCaseSystem(
        officer=officer,
        directory=directory,
        signing_key=key,
        private_key=private,
        recipient=recipient,
        token=token,
    )
