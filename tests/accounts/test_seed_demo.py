"""`seed_demo` is idempotent and its printed logins work: password, then the printed TOTP."""

import re
import shutil
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD
from accounts.models import Agency, Officer, User
from portal.audit import audit_chain_verify
from requests_app.demo_source.models import PlatformAccount
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_twice_creates_everything_once() -> None:
    seed()

    def counts() -> tuple[int, ...]:
        return (
            User.objects.count(),
            Agency.objects.count(),
            Officer.objects.count(),
            LegalRequest.objects.count(),
            PlatformAccount.objects.count(),
        )

    first = counts()
    seed()
    assert counts() == first
    assert first[3] >= 5  # demo requests went through intake
    # Every demo submission passed intake (the transparency history adds rejections of
    # its own, none of them a demo officer's).
    demo_officers = Officer.objects.filter(requests__case_reference__startswith="DEMO-")
    assert not IntakeRejection.objects.filter(officer__in=demo_officers).exists()
    assert {a.country.code for a in Agency.objects.all()} >= {"BR", "IN", "DE", "FR", "US"}
    assert audit_chain_verify().ok


def test_a_printed_demo_login_works_with_the_printed_totp_secret(client) -> None:
    output = seed()
    line = next(line for line in output.splitlines() if "reviewer@platform.example" in line)
    secret = re.search(r"TOTP secret ([A-Z2-7]+)", line).group(1)
    if shutil.which("oathtool"):
        code = subprocess.run(  # noqa: S603
            ["oathtool", "--totp", "-b", secret],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    else:
        import base64

        from django_otp.oath import totp

        code = f"{totp(base64.b32decode(secret)):06d}"

    response = client.post(
        "/login/", {"username": "reviewer@platform.example", "password": DEMO_PASSWORD}
    )
    assert response["Location"] == "/login/verify/"
    response = client.post("/login/verify/", {"method": "totp", "code": code})
    assert response.status_code == 302
    assert "Rosa Reviewer" in client.get("/").content.decode()


def test_seed_demo_prints_the_address_the_portal_was_started_on(settings) -> None:
    settings.PORTAL_AUDIENCE = "http://localhost:8766"  # make run PORT=8766
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo logins: open http://localhost:8766/login/" in out.getvalue()
    assert "export PORTAL=http://localhost:8766 " in out.getvalue()
    assert "8000" not in out.getvalue()
