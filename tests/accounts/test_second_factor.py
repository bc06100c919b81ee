"""The second step of login: TOTP codes, backup codes and passkeys, and their attacks.

Passkeys are exercised with a software authenticator (``SoftPasskey``) that signs real
WebAuthn structures, so django-otp-webauthn's whole verification runs.
"""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import AuthFailure, Officer
from accounts.services.factors import backup_codes_generate
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import (
    PASSWORD,
    SoftPasskey,
    log_in,
    make_officer,
    make_user,
    passkey_register,
    passkey_verify,
    totp_code,
)

pytestmark = pytest.mark.django_db


def password_step(client, user) -> None:
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content


def session_key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def is_verified(client) -> bool:
    """Whether the client's session passed the second factor (django-otp's session mark)."""
    return DEVICE_ID_SESSION_KEY in client.session


def wrong_code(user) -> str:
    """A six-digit code the user's app does not show now, nor one step either side."""
    valid = {totp_code(user, offset_steps=step) for step in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 7919)) if c not in valid)


# --- TOTP and backup codes -----------------------------------------------------------------


def test_a_totp_code_used_once_is_refused_the_second_time_and_grants_nothing(client) -> None:
    user = make_user()
    code = totp_code(user)
    password_step(client, user)
    assert client.post("/login/verify/", {"method": "totp", "code": code}).status_code == 302
    client.post("/logout/")

    password_step(client, user)
    before = audit_mark()
    response = client.post("/login/verify/", {"method": "totp", "code": code})

    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert not is_verified(client)
    assert AuthFailure.objects.filter(email=user.email, kind="second_factor").count() == 1
    assert actions_since(before) == ["auth.failed"]


def test_a_wrong_totp_code_is_refused_counted_and_audited(client) -> None:
    user = make_user()
    password_step(client, user)
    before = audit_mark()

    response = client.post(
        "/login/verify/", {"method": "totp", "code": wrong_code(user)}, REMOTE_ADDR="198.51.100.4"
    )

    assert response.status_code == 400
    assert not is_verified(client)
    failure = AuthFailure.objects.get(email=user.email)
    assert (failure.kind, failure.ip) == ("second_factor", "198.51.100.4")
    event = AuditEvent.objects.get(seq=before + 1)
    assert (event.action, event.actor_id) == ("auth.failed", user.pk)
    assert event.data == {
        "kind": "second_factor",
        "method": "totp",
        "email": user.email,
        "ip": "198.51.100.4",
    }


def test_a_backup_code_works_once_then_is_refused(client) -> None:
    user = make_user()
    codes = backup_codes_generate(user=user)

    password_step(client, user)
    response = client.post("/login/verify/", {"method": "backup", "code": codes[0]})
    assert response.status_code == 302
    assert is_verified(client)
    assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1
    ok = AuditEvent.objects.filter(action="auth.second_factor_ok").last()
    assert ok is not None
    assert ok.data["method"] == "backup"
    client.post("/logout/")

    password_step(client, user)
    response = client.post("/login/verify/", {"method": "backup", "code": codes[0]})
    assert response.status_code == 400
    assert not is_verified(client)
    assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1


def test_a_totp_code_is_not_accepted_as_a_backup_code_nor_the_reverse(client) -> None:
    user = make_user()
    codes = backup_codes_generate(user=user)
    password_step(client, user)

    as_backup = client.post("/login/verify/", {"method": "backup", "code": totp_code(user)})
    as_totp = client.post("/login/verify/", {"method": "totp", "code": codes[0]})

    assert (as_backup.status_code, as_totp.status_code) == (400, 400)
    assert not is_verified(client)
    assert StaticToken.objects.filter(device__user=user).count() == len(codes)


def test_the_session_id_rotates_at_the_password_and_again_at_a_backup_code(client) -> None:
    user = make_user()
    codes = backup_codes_generate(user=user)
    client.get("/login/")
    client.session.save()
    anonymous = session_key(client)

    password_step(client, user)
    after_password = session_key(client)
    client.post("/login/verify/", {"method": "backup", "code": codes[0]})
    after_code = session_key(client)

    assert len({anonymous, after_password, after_code}) == 3
    assert not Session.objects.filter(session_key__in=[anonymous, after_password]).exists()
    assert is_verified(client)


# --- Passkeys ---------------------------------------------------------------------------


def test_a_verified_user_registers_a_passkey_and_it_is_audited(client) -> None:
    user = make_user()
    log_in(client, user)
    before = audit_mark()

    response = passkey_register(client, SoftPasskey())

    assert response.status_code == 200, response.content
    credential = WebAuthnCredential.objects.get(user=user)
    assert credential.confirmed
    event = AuditEvent.objects.get(seq=before + 1)
    assert (event.action, event.actor_id) == ("second_factor.added", user.pk)
    assert event.data == {"type": "passkey", "credential": credential.pk}
    assert actions_since(before) == ["second_factor.added"]


def test_a_password_and_a_passkey_log_in_rotate_the_session_and_are_audited(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    password_step(client, user)
    after_password = session_key(client)
    AuthFailure.objects.create(kind="second_factor", email=user.email, ip="127.0.0.1")
    before = audit_mark()

    response = passkey_verify(client, passkey, next_url="/account/factors/")

    assert response.status_code == 200, response.content
    assert response.json()["redirect_url"] == "/account/factors/"
    assert session_key(client) != after_password
    assert not Session.objects.filter(session_key=after_password).exists()
    assert is_verified(client)
    event = AuditEvent.objects.get(seq=before + 1)
    assert (event.action, event.actor_id) == ("auth.second_factor_ok", user.pk)
    assert event.data == {"method": "passkey", "ip": "127.0.0.1"}
    assert not AuthFailure.objects.filter(email=user.email).exists()


def test_a_passkey_step_refuses_an_offsite_next_url(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    password_step(client, user)

    response = passkey_verify(client, passkey, next_url="https://evil.example/")

    assert response.json()["redirect_url"] == "/"


def test_another_users_passkey_cannot_complete_my_login_and_grants_nothing(client) -> None:
    victim = make_user()
    attacker = make_user()
    attacker_passkey = SoftPasskey()
    attacker_passkey.store_for(attacker)
    password_step(client, victim)
    before = audit_mark()

    response = passkey_verify(client, attacker_passkey)

    assert response.status_code == 403
    assert response.json()["code"] == "credential_user_mismatch"
    assert not is_verified(client)
    assert client.session["_auth_user_id"] == str(victim.pk)
    assert AuthFailure.objects.filter(email=victim.email, kind="second_factor").count() == 1
    assert actions_since(before) == ["auth.failed"]
    assert AuditEvent.objects.get(seq=before + 1).data["method"] == "passkey"


def test_a_forged_passkey_signature_is_refused_and_counted(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    password_step(client, user)
    begin = client.post("/webauthn/authentication/begin/").json()
    answer = passkey.assertion_response(begin)
    # Another key signs for the same credential id: a thief without the device.
    forger = SoftPasskey()
    forger.credential_id = passkey.credential_id
    answer["response"]["signature"] = forger.assertion_response(begin)["response"]["signature"]

    response = client.post(
        "/webauthn/authentication/complete/", answer, content_type="application/json"
    )

    assert response.status_code == 422
    assert not is_verified(client)
    assert AuthFailure.objects.filter(email=user.email).count() == 1


def test_a_passkey_answer_cannot_be_replayed(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    password_step(client, user)
    begin = client.post("/webauthn/authentication/begin/").json()
    answer = passkey.assertion_response(begin)
    complete = "/webauthn/authentication/complete/"
    assert client.post(complete, answer, content_type="application/json").status_code == 200
    client.post("/logout/")

    password_step(client, user)
    client.post("/webauthn/authentication/begin/")
    response = client.post(complete, answer, content_type="application/json")

    assert response.status_code == 422
    assert not is_verified(client)


def test_a_passkey_alone_without_the_password_logs_nobody_in(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)

    begin = client.post("/webauthn/authentication/begin/")
    complete = client.post(
        "/webauthn/authentication/complete/",
        passkey.assertion_response({"challenge": "AAAAAAAAAAAAAAAAAAAAAA"}),
        content_type="application/json",
    )

    assert begin.status_code == complete.status_code == 302
    assert begin["Location"].startswith("/login/")
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()


def test_the_passkey_step_is_refused_while_the_account_is_locked(client, settings) -> None:
    settings.LOCKOUT_ACCOUNT_FAILURES = 2
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    password_step(client, user)
    for _ in range(2):
        client.post("/login/verify/", {"method": "totp", "code": wrong_code(user)})
    before = audit_mark()

    response = passkey_verify(client, passkey)

    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.json()["detail"]
    assert not is_verified(client)
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()
    # The refused try is audited, not counted.
    assert actions_since(before) == ["auth.refused_locked"]
    refused = AuditEvent.objects.get(action="auth.refused_locked")
    assert (refused.actor_id, refused.data["method"]) == (user.pk, "passkey")
    assert AuthFailure.objects.filter(email=user.email).count() == 2


def test_repeated_passkey_failures_lock_the_account(client, settings) -> None:
    settings.LOCKOUT_ACCOUNT_FAILURES = 3
    victim = make_user()
    other = SoftPasskey()
    other.store_for(make_user())
    password_step(client, victim)

    codes = [passkey_verify(client, other).json()["code"] for _ in range(3)]

    assert codes == ["credential_user_mismatch", "credential_user_mismatch", "locked_out"]
    assert AuditEvent.objects.filter(action="auth.locked_out", actor=victim).count() == 1


def test_a_user_with_a_factor_cannot_register_a_passkey_before_using_it(client) -> None:
    """A stolen password must not let the thief add their own passkey to the account."""
    user = make_user()
    password_step(client, user)
    before = audit_mark()
    passkey = SoftPasskey()

    begin = client.post("/webauthn/registration/begin/")
    # Even an answer built for options the thief got elsewhere is refused at completion.
    options = {"challenge": "AAAAAAAAAAAAAAAAAAAAAA"}
    complete = client.post(
        "/webauthn/registration/complete/",
        passkey.registration_response(options),
        content_type="application/json",
    )

    assert begin.status_code == 403
    assert begin.json()["code"] == "user_not_verified"
    assert "otp_webauthn_register_state" not in client.session
    assert complete.status_code == 403
    assert not WebAuthnCredential.objects.exists()
    assert not is_verified(client)
    assert actions_since(before) == []


def test_the_passkey_enrolment_page_asks_for_the_existing_factor_first(client) -> None:
    user = make_user()
    password_step(client, user)

    response = client.get("/account/factors/passkey/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/verify/")


def test_a_new_user_without_factors_registers_a_passkey_as_first_factor(client) -> None:
    user = make_user(totp=False)
    password_step(client, user)
    after_password = session_key(client)
    assert not is_verified(client)

    response = passkey_register(client, SoftPasskey())

    assert response.status_code == 200, response.content
    assert WebAuthnCredential.objects.filter(user=user).count() == 1
    assert session_key(client) != after_password
    assert is_verified(client)
    assert AuditEvent.objects.filter(action="second_factor.added", actor=user).count() == 1


def test_the_passkey_enrolment_page_carries_the_package_scripts_without_inline_code(
    client,
) -> None:
    log_in(client, make_user())

    page = client.get("/account/factors/passkey/").content.decode()

    assert 'id="passkey-registration-placeholder"' in page
    assert 'id="passkey-registration-available-template"' in page
    assert 'id="passkey-register-button"' in page
    assert 'id="otp_webauthn_config" type="application/json"' in page
    assert 'type="module" src="/static/django_otp_webauthn/otp_webauthn_register.js"' in page
    assert "<style" not in page
    assert " style=" not in page
    assert page.count("<script") == 3  # the JSON config, the catalog and the module


def test_the_verify_page_offers_the_passkey_only_to_a_user_who_has_one(client) -> None:
    with_passkey = make_user()
    SoftPasskey().store_for(with_passkey)
    password_step(client, with_passkey)
    page = client.get("/login/verify/").content.decode()
    assert 'id="passkey-verification-button"' in page
    assert "otp_webauthn_auth.js" in page
    client.post("/logout/")

    password_step(client, make_user())
    page = client.get("/login/verify/").content.decode()
    assert "passkey-verification-button" not in page
    assert "<script" not in page


def test_an_officer_with_a_passkey_and_an_app_sees_complete_factors(client) -> None:
    officer = make_officer()
    SoftPasskey().store_for(officer.user)
    log_in(client, officer.user)

    page = client.get("/account/factors/").content.decode()

    assert "Your second factors are complete." in page
    assert "1 registered" in page


def test_an_officer_with_only_an_app_is_told_the_passkey_is_missing(client) -> None:
    officer = make_officer(status=Officer.Status.PENDING)
    log_in(client, officer.user)

    page = client.get("/account/factors/").content.decode()

    assert "not complete yet" in page
    assert "<strong>missing</strong>" in page


def test_a_reviewer_with_only_an_app_has_complete_factors(client) -> None:
    log_in(client, make_user())
    assert "Your second factors are complete." in client.get("/account/factors/").content.decode()


def test_confirming_a_new_totp_app_replaces_the_old_and_is_audited(client) -> None:
    user = make_user()
    log_in(client, user)
    old = TOTPDevice.objects.get(user=user, confirmed=True)
    client.get("/account/factors/totp/")
    pending = TOTPDevice.objects.get(user=user, confirmed=False)
    before = audit_mark()

    response = client.post("/account/factors/totp/", {"code": totp_code(user, device=pending)})

    assert response.status_code == 200
    assert "Your backup codes" in response.content.decode()
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    assert actions_since(before) == [
        "second_factor.added",
        "second_factor.backup_codes_generated",
    ]
