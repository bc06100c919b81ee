"""Passkeys in a real browser: Debian's chromium with its virtual authenticator."""

import pytest
from django.core import mail
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.settings import app_settings

from portal.models import AuditEvent
from tests.browser.conftest import log_in_with_password
from tests.factories import make_user, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_relying_party_settings_reach_django_otp_webauthn(webauthn_origin) -> None:
    assert webauthn_origin.startswith("http://localhost:")
    assert app_settings.OTP_WEBAUTHN_RP_ID == "localhost"
    assert app_settings.OTP_WEBAUTHN_ALLOWED_ORIGINS == [webauthn_origin]
    assert app_settings.OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN is False


def test_a_reviewer_registers_a_passkey_and_logs_in_with_it(passkey_page, webauthn_origin) -> None:
    page = passkey_page
    user = make_user(email="rosa@platform.example", full_name="Rosa Reviewer")

    # Password and authenticator app, as before any passkey.
    log_in_with_password(page, user.email)
    page.get_by_label("Six-digit code").fill(totp_code(user))
    page.get_by_label("Six-digit code").press("Enter")
    page.wait_for_url(webauthn_origin + "/")

    # Register a passkey on the virtual authenticator.
    page.goto("/account/factors/passkey/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Register a passkey").click()
    page.get_by_text("Registration successful!").wait_for()
    assert len(page.authenticator.credentials()) == 1
    credential = WebAuthnCredential.objects.get(user=user)
    added = AuditEvent.objects.get(action="second_factor.added", actor=user)
    assert added.data == {"type": "passkey", "credential": credential.pk}
    assert [m.subject for m in mail.outbox] == [
        "A passkey was added to your authority portal account"
    ]
    page.goto("/account/factors/")
    assert page.get_by_role("cell", name="1 registered").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")

    # Password, then the passkey instead of a code.
    log_in_with_password(page, user.email)
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Use my passkey").click()
    page.wait_for_url(webauthn_origin + "/")

    assert page.get_by_role("heading", name="Welcome, Rosa Reviewer").is_visible()
    ok = AuditEvent.objects.filter(action="auth.second_factor_ok", actor=user).last()
    assert ok is not None
    assert ok.data["method"] == "passkey"
    credential.refresh_from_db()
    assert credential.last_used_at is not None
    page.watch.assert_clean()
