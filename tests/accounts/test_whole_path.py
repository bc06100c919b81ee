"""The whole path of an officer, through the real pages: from registration to an API token.

No shortcut through the ORM after setup: the test registers, follows the mailbox link,
enrols TOTP (codes computed here) and a passkey, is vetted by an administrator through
the vetting pages, logs in with password and TOTP, and creates a token that the API
accepts.
"""

import base64
import re

import pytest
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Officer
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from tests.factories import (
    PASSWORD,
    SoftPasskey,
    log_in,
    mailbox_link_path,
    make_agency,
    make_vetting_admin,
    passkey_register,
    registration_form,
    totp_code,
)

pytestmark = pytest.mark.django_db


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = generator.time + steps_ahead * device.step
    return f"{generator.token():06d}"


def test_an_officer_goes_from_registration_to_a_working_api_token(
    django_capture_on_commit_callbacks,
) -> None:
    agency = make_agency(country="DE", domain="polizei.example.de")
    admin = make_vetting_admin()
    officer_client, admin_client = Client(), Client()

    # registration
    form = registration_form(agency=agency)
    with django_capture_on_commit_callbacks(execute=True):  # the email leaves on commit
        response = officer_client.post("/register/", form)
    assert response.status_code == 302
    officer = Officer.objects.get(user__email=form["email"])
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED

    # the mailbox link
    link = mailbox_link_path(mail.outbox[-1])
    assert officer_client.get(link).status_code == 200
    assert officer_client.post(link, {"password": PASSWORD}).status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING

    # login without factors leads to enrolment
    response = officer_client.post("/login/", {"username": form["email"], "password": PASSWORD})
    assert response["Location"] == "/account/factors/"

    # TOTP, with a code computed from the secret the page showed
    page = officer_client.get("/account/factors/totp/").content.decode()
    device = TOTPDevice.objects.get(user=officer.user, confirmed=False)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    response = officer_client.post("/account/factors/totp/", {"code": code_for(device)})
    assert response.status_code == 200
    assert "Your backup codes" in response.content.decode()

    # a passkey
    assert passkey_register(officer_client, SoftPasskey()).status_code == 200

    # until vetted, only the status page
    assert officer_client.get("/account/keys/")["Location"] == "/account/status/"
    assert "Waiting for vetting" in officer_client.get("/account/status/").content.decode()

    # vetting: a callback to the agency's number on file, then approval
    log_in(admin_client, admin)
    response = admin_client.post(
        f"/vetting/officers/{officer.pk}/callbacks/",
        {"outcome": "confirmed", "note": "Duty desk confirmed employment."},
    )
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/vetting/officers/{officer.pk}/approve/")
    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    assert mail.outbox[-1].to == [form["email"]]

    # a fresh login with password and TOTP (the next code: the first one was used)
    officer_client.post("/logout/")
    response = officer_client.post("/login/", {"username": form["email"], "password": PASSWORD})
    assert response["Location"] == "/login/verify/"
    response = officer_client.post(
        "/login/verify/", {"method": "totp", "code": totp_code(officer.user, offset_steps=1)}
    )
    assert response.status_code == 302

    # an API token, shown once, that the API accepts
    response = officer_client.post("/account/tokens/", {"name": "Case system", "lifetime_days": 30})
    secret = re.search(r"ptk_[A-Za-z0-9_-]{43}", response.content.decode()).group(0)
    me = officer_client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert me.status_code == 200
    assert me.json()["email"] == form["email"]
    assert secret not in officer_client.get("/account/tokens/").content.decode()

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    for expected in [
        "officer.registered",
        "officer.mailbox_verified",
        "second_factor.added",
        "callback.recorded",
        "officer.approved",
        "auth.second_factor_ok",
        "api_token.created",
    ]:
        assert expected in actions, expected
    assert actions.index("officer.registered") < actions.index("officer.approved")
    assert actions.index("officer.approved") < actions.index("api_token.created")
    assert audit_chain_verify().ok
