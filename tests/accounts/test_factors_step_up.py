"""Changing second factors: a recent second factor first, and an email every time.

A verified session whose second factor passed more than ``FRESH_SECONDS`` ago (a cookie
stolen hours after the login, a computer left unlocked) cannot add or remove a passkey,
set up a new authenticator app or make new backup codes until it uses a factor again.
Each attack test checks the refusal and that nothing changed: no device, no signing
record, no audit event, no email.
"""

import time

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import AuthFailure, KeyStatus, Officer, SigningPasskey
from accounts.services.factors import FactorRefused, backup_codes_generate, passkey_remove
from accounts.step_up import FRESH_SECONDS, SESSION_KEY
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import (
    SoftPasskey,
    log_in,
    make_officer,
    make_signing_passkey,
    make_user,
    passkey_register,
    passkey_verify,
    totp_code,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("officer_factors")]

CONFIRM = "/account/factors/confirm/"


def make_stale(client: Client) -> None:
    """Age the session's second factor beyond the window, as if used long ago."""
    session = client.session
    session[SESSION_KEY] = int(time.time()) - FRESH_SECONDS - 60
    session.save()


def backup_codes_of(user) -> set[str]:
    return set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


@pytest.fixture
def officer_factors(officer: Officer) -> None:
    """The shared ``officer`` also has a signing passkey and backup codes (every test here)."""
    make_signing_passkey(officer=officer)
    backup_codes_generate(user=officer.user, notify=False)


@pytest.fixture
def stale_client(client: Client, officer: Officer) -> Client:
    """The officer's verified session, whose second factor passed long ago."""
    log_in(client, officer.user)
    make_stale(client)
    return client


# --- Refused without a recent second factor ------------------------------------------------


def test_a_stale_session_cannot_register_a_passkey_and_nothing_is_stored(
    stale_client, officer, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    before = audit_mark()

    page = stale_client.get("/account/factors/passkey/")
    with django_capture_on_commit_callbacks(execute=True):
        begin = stale_client.post("/webauthn/registration/begin/")
        complete = passkey_register(stale_client, SoftPasskey())

    assert page.status_code == 302
    assert page["Location"] == CONFIRM + "?next=%2Faccount%2Ffactors%2Fpasskey%2F"
    assert begin.status_code == 403
    assert begin.json()["detail"].startswith("Confirm it is you first")
    assert complete.status_code == 403
    assert WebAuthnCredential.objects.filter(user=officer.user).count() == 1
    assert SigningPasskey.objects.filter(officer=officer).count() == 1
    assert actions_since(before) == []
    assert mailoutbox == []


def test_a_stale_session_cannot_make_new_backup_codes_and_the_old_ones_stay(
    stale_client, officer, mailoutbox
) -> None:
    codes = backup_codes_of(officer.user)
    before = audit_mark()

    response = stale_client.post("/account/factors/backup-codes/")

    assert response.status_code == 302
    assert response["Location"].startswith(CONFIRM)
    assert backup_codes_of(officer.user) == codes
    assert actions_since(before) == []
    assert mailoutbox == []


def test_a_stale_session_cannot_set_up_a_new_authenticator_app(
    stale_client, officer, mailoutbox
) -> None:
    old = TOTPDevice.objects.get(user=officer.user, confirmed=True)
    before = audit_mark()

    shown = stale_client.get("/account/factors/totp/")
    posted = stale_client.post("/account/factors/totp/", {"code": totp_code(officer.user)})

    for response in (shown, posted):
        assert response.status_code == 302
        assert response["Location"] == CONFIRM + "?next=%2Faccount%2Ffactors%2Ftotp%2F"
    assert list(TOTPDevice.objects.filter(user=officer.user)) == [old]
    assert actions_since(before) == []
    assert mailoutbox == []


def test_a_stale_session_cannot_remove_a_passkey_and_it_keeps_working(
    stale_client, officer, mailoutbox
) -> None:
    key = SigningPasskey.objects.get(officer=officer)
    url = f"/account/factors/passkeys/{key.credential_id}/remove/"
    before = audit_mark()

    response = stale_client.post(url, {"reason": "Removing the officer's own passkey."})

    assert response.status_code == 302
    assert response["Location"].startswith(CONFIRM)
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE
    assert key.credential is not None
    assert actions_since(before) == []
    assert mailoutbox == []


def test_a_session_past_only_its_password_is_sent_to_the_login_step(client, officer) -> None:
    from tests.factories import PASSWORD

    client.post("/login/", {"username": officer.user.email, "password": PASSWORD})

    response = client.post("/account/factors/backup-codes/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/verify/")


# --- Confirming it is you ----------------------------------------------------------------


def test_a_code_on_the_confirm_page_opens_the_change_for_the_next_minutes(
    stale_client, officer
) -> None:
    page = stale_client.get(CONFIRM + "?next=/account/factors/passkey/")
    assert page.status_code == 200
    assert "You are about to change your second factors" in page.content.decode()

    response = stale_client.post(
        CONFIRM,
        # The next code: the login's code was used, and a used code never passes again.
        {
            "method": "totp",
            "code": totp_code(officer.user, offset_steps=1),
            "next": "/account/factors/passkey/",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == "/account/factors/passkey/"
    assert stale_client.get("/account/factors/passkey/").status_code == 200
    assert passkey_register(stale_client, SoftPasskey()).status_code == 200
    assert AuditEvent.objects.filter(action="auth.second_factor_ok").count() == 2


def test_the_passkey_on_the_confirm_page_opens_the_change_too(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    log_in(client, user)
    make_stale(client)

    response = passkey_verify(client, passkey, next_url="/account/factors/passkey/")

    assert response.status_code == 200, response.content
    assert response.json()["redirect_url"] == "/account/factors/passkey/"
    assert client.get("/account/factors/passkey/").status_code == 200


def test_a_wrong_code_on_the_confirm_page_opens_nothing_and_counts_as_a_failure(
    stale_client, officer
) -> None:
    before = audit_mark()

    response = stale_client.post(CONFIRM, {"method": "totp", "code": "000000"})

    assert response.status_code == 400
    assert "not right" in response.content.decode()
    assert AuthFailure.objects.filter(email=officer.user.email, kind="second_factor").count() == 1
    assert actions_since(before) == ["auth.failed"]
    assert stale_client.get("/account/factors/passkey/")["Location"].startswith(CONFIRM)


def test_the_confirm_page_sends_a_fresh_session_on_and_only_to_this_site(client, officer):
    log_in(client, officer.user)

    onward = client.get(CONFIRM + "?next=/account/keys/")
    offsite = client.get(CONFIRM + "?next=https://evil.example/")

    assert onward["Location"] == "/account/keys/"
    assert offsite["Location"] == "/"


# --- The changes themselves, and the email about each ----------------------------------


def test_removing_a_passkey_revokes_its_signing_record_audits_and_emails_the_officer(
    client, officer, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    log_in(client, officer.user)
    key = SigningPasskey.objects.get(officer=officer)
    credential_pk = key.credential_id
    url = f"/account/factors/passkeys/{credential_pk}/remove/"
    page = client.get(url).content.decode()
    assert key.key_id in page
    before = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "Phone lost on the train."})

    assert response.status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=credential_pk).exists()
    key.refresh_from_db()
    assert (key.status, key.credential, key.revoked_by) == (
        KeyStatus.REVOKED,
        None,
        officer.user,
    )
    assert key.reason == "Phone lost on the train."
    assert actions_since(before) == ["signing_passkey.revoked", "second_factor.removed"]
    assert [m.subject for m in mailoutbox] == [
        "A passkey was removed from your authority portal account"
    ]
    assert mailoutbox[0].to == [officer.user.email]
    keys_page = client.get("/account/keys/").content.decode()
    assert key.key_id in keys_page
    assert "Reason: Phone lost on the train." in keys_page


def test_the_last_second_factor_is_never_removed(officer) -> None:
    TOTPDevice.objects.filter(user=officer.user).delete()
    key = SigningPasskey.objects.get(officer=officer)
    before = audit_mark()

    with pytest.raises(FactorRefused, match="only second factor"):
        passkey_remove(user=officer.user, credential=key.credential, reason="Tidying up.")

    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE
    assert WebAuthnCredential.objects.filter(user=officer.user).exists()
    assert actions_since(before) == []


def test_removing_needs_a_reason(client, officer) -> None:
    log_in(client, officer.user)
    key = SigningPasskey.objects.get(officer=officer)

    response = client.post(f"/account/factors/passkeys/{key.credential_id}/remove/", {})

    assert response.status_code == 400
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE


def test_every_factor_change_is_emailed_to_the_owner_without_anything_secret(
    client, officer, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    user = officer.user
    log_in(client, user)

    with django_capture_on_commit_callbacks(execute=True):
        assert passkey_register(client, SoftPasskey()).status_code == 200
        assert client.post("/account/factors/backup-codes/").status_code == 200
        client.get("/account/factors/totp/")
        pending = TOTPDevice.objects.get(user=user, confirmed=False)
        new_code = totp_code(user, device=pending)
        assert client.post("/account/factors/totp/", {"code": new_code}).status_code == 200

    assert [m.subject for m in mailoutbox] == [
        "A passkey was added to your authority portal account",
        "New backup codes were made for your authority portal account",
        "A new authenticator app was set up for your authority portal account",
    ]
    codes = backup_codes_of(user)
    for message in mailoutbox:
        assert message.to == [user.email]
        assert "If it was not you" in message.body
        assert "Call the platform's legal team" in message.body
        assert not any(code in message.body for code in codes)
        assert new_code not in message.body
    assert "compared its fingerprint with you" in mailoutbox[0].body


def test_a_pending_passkey_logs_in_although_it_cannot_sign(client) -> None:
    officer = make_officer()
    passkey = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=passkey, status=KeyStatus.PENDING)
    from tests.factories import PASSWORD

    client.post("/login/", {"username": officer.user.email, "password": PASSWORD})
    response = passkey_verify(client, passkey)

    assert response.status_code == 200, response.content
    assert client.get("/account/keys/").status_code == 200
