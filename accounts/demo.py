"""Demonstration data for `make run`. Never loaded in production.

Every demo account logs in with the shared password and a TOTP code computed from the
secret printed by `seed_demo` (e.g. `oathtool --totp -b SECRET`).
"""

import base64
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit import audit_append

from .models import Agency, AgencyDomain, CallbackCheck, Officer, Role, User

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
