"""Password and code guessing is locked out per account and per address, and audited."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import AuthFailure
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import PASSWORD, SoftPasskey, make_user, passkey_verify, totp_code

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.66"
ELSEWHERE = "192.0.2.10"


@pytest.fixture(autouse=True)
def _lockout_limits(settings) -> None:
    settings.LOCKOUT_ACCOUNT_FAILURES = 5
    settings.LOCKOUT_ADDRESS_FAILURES = 8
    settings.LOCKOUT_MINUTES = 15


def login(client, email: str, password: str, ip: str = ATTACKER, **headers):
    return client.post(
        "/login/", {"username": email, "password": password}, REMOTE_ADDR=ip, **headers
    )


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def wrong_code(user) -> str:
    valid = {totp_code(user, offset_steps=step) for step in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222") if c not in valid)


def test_five_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_refused(
    client,
) -> None:
    user = make_user()
    before = audit_mark()

    for _ in range(4):
        response = login(client, user.email, "guess")
        assert "Try again" not in response.content.decode()
    fifth = login(client, user.email, "guess")
    right = login(client, user.email, PASSWORD)

    assert "Too many failed attempts. Try again in 15 minutes." in fifth.content.decode()
    assert right.status_code == 200
    assert "Too many failed attempts. Try again in 15 minutes." in right.content.decode()
    assert not logged_in(client)
    # Five failures counted, a lockout on the fifth; the right password, refused unchecked,
    # is audited but not counted (it would make the lock last longer).
    assert AuthFailure.objects.filter(email=user.email, kind="password").count() == 5
    assert actions_since(before) == ["auth.failed"] * 5 + ["auth.locked_out", "auth.refused_locked"]
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert (locked.actor_id, locked.data["email"], locked.data["ip"]) == (
        user.pk,
        user.email,
        ATTACKER,
    )
    assert 840 < locked.data["seconds"] <= 901
    assert not AuditEvent.objects.filter(action="auth.password_ok").exists()


def test_one_address_cannot_lock_the_account_for_other_addresses(client) -> None:
    """Guessing from one address locks that address out of the account, not the officer."""
    user = make_user()
    for _ in range(12):
        login(client, user.email, "guess")
    assert "Try again in" in login(client, user.email, PASSWORD).content.decode()
    attacker_client_logged_in = logged_in(client)
    officer = Client()
    before = audit_mark()

    response = login(officer, user.email, PASSWORD, ip=ELSEWHERE)
    verified = officer.post(
        "/login/verify/", {"method": "totp", "code": totp_code(user)}, REMOTE_ADDR=ELSEWHERE
    )

    assert not attacker_client_logged_in
    assert response.status_code == 302
    assert verified.status_code == 302
    assert DEVICE_ID_SESSION_KEY in officer.session
    assert actions_since(before) == ["auth.password_ok", "auth.second_factor_ok"]
    # The lock the guesser met was of the account from their address only.
    assert AuditEvent.objects.get(action="auth.locked_out").data["scope"] == "account_address"


def guess_from_many_addresses(email: str, count: int) -> None:
    for number in range(count):
        login(Client(), email, "guess", ip=f"198.51.100.{number + 1}")


def test_failures_from_many_addresses_lock_the_account_everywhere(client, settings) -> None:
    settings.LOCKOUT_ACCOUNT_ADDRESSES = 5
    user = make_user()
    guess_from_many_addresses(user.email, 4)
    assert login(Client(), user.email, PASSWORD, ip="192.0.2.200").status_code == 302
    AuthFailure.objects.filter(email=user.email).update(at=timezone.now())  # still counted
    guess_from_many_addresses(user.email, 4)  # the same four: still four addresses
    login(Client(), user.email, "guess", ip="198.51.100.99")  # a fifth address
    before = audit_mark()

    response = login(client, user.email, PASSWORD, ip=ELSEWHERE)

    text = response.content.decode()
    assert "from many places. Try again in 15 minutes, or log in with your passkey" in text
    assert not logged_in(client)
    assert actions_since(before) == ["auth.refused_locked"]
    locked = AuditEvent.objects.filter(action="auth.locked_out").last()
    assert locked is not None
    assert (locked.data["scope"], locked.data["ip"]) == ("account", "198.51.100.99")
    # Nothing was granted to anyone.
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()


def test_under_the_account_wide_lock_codes_are_refused_but_a_passkey_after_the_password_works(
    client,
) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    assert login(client, user.email, PASSWORD, ip=ELSEWHERE).status_code == 302
    guess_from_many_addresses(user.email, 5)

    code = client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    assert "Try again in" in code.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session

    response = passkey_verify(client, passkey)

    assert response.status_code == 200, response.content
    assert DEVICE_ID_SESSION_KEY in client.session


def passkey_first(client, passkey: SoftPasskey):
    begin = client.post("/login/passkey/begin/")
    if begin.status_code != 200:
        return begin
    return client.post(
        "/login/passkey/complete/",
        passkey.assertion_response(begin.json()),
        content_type="application/json",
    )


def test_a_passkey_login_works_under_the_account_wide_lock(client) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    guess_from_many_addresses(user.email, 5)
    refused = login(client, user.email, PASSWORD)
    assert "log in with your passkey" in refused.content.decode()
    assert not logged_in(client)
    assert client.get("/login/passkey/").status_code == 200
    before = audit_mark()

    answer = passkey_first(client, passkey)
    assert answer.status_code == 200, answer.content
    assert answer.json()["redirect_url"] == "/login/"
    assert not logged_in(client)  # the passkey alone logs nobody in
    response = login(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in(client)
    assert DEVICE_ID_SESSION_KEY in client.session
    assert actions_since(before) == [
        "auth.passkey_before_password",
        "auth.password_ok",
        "auth.second_factor_ok",
    ]
    assert AuditEvent.objects.get(action="auth.second_factor_ok").data["method"] == "passkey"


def test_under_the_account_wide_lock_the_passkey_without_the_password_grants_nothing(
    client,
) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)
    guess_from_many_addresses(user.email, 5)
    login(client, user.email, PASSWORD)
    assert passkey_first(client, passkey).status_code == 200

    wrong = login(client, user.email, "guess")

    assert wrong.status_code == 200
    assert not logged_in(client)
    assert AuthFailure.objects.filter(email=user.email, ip=ATTACKER).count() == 1
    assert not AuditEvent.objects.filter(action="auth.password_ok").exists()


def test_under_the_account_wide_lock_another_users_passkey_is_refused_and_counted(
    client,
) -> None:
    victim = make_user()
    SoftPasskey().store_for(victim)
    thief_passkey = SoftPasskey()
    thief_passkey.store_for(make_user())
    guess_from_many_addresses(victim.email, 5)
    login(client, victim.email, PASSWORD)
    failures = AuthFailure.objects.filter(email=victim.email).count()

    answer = passkey_first(client, thief_passkey)
    response = login(client, victim.email, PASSWORD)

    assert answer.status_code == 403
    assert answer.json()["code"] == "credential_user_mismatch"
    assert "Try again in" in response.content.decode()
    assert not logged_in(client)
    assert AuthFailure.objects.filter(email=victim.email).count() == failures + 1
    assert not AuditEvent.objects.filter(action="auth.passkey_before_password").exists()


def test_the_passkey_step_before_the_password_is_only_for_a_session_told_of_the_lock(
    client,
) -> None:
    user = make_user()
    passkey = SoftPasskey()
    passkey.store_for(user)

    answer = passkey_first(client, passkey)

    assert answer.status_code in (302, 403)
    assert client.get("/login/passkey/")["Location"] == "/login/"
    assert not logged_in(client)
    assert not AuditEvent.objects.filter(action="auth.passkey_before_password").exists()


def test_an_unknown_account_is_counted_and_audited_like_a_known_one(client) -> None:
    before = audit_mark()

    for _ in range(5):
        login(client, "nobody@platform.example", "guess")

    assert actions_since(before) == ["auth.failed"] * 5 + ["auth.locked_out"]
    event = AuditEvent.objects.filter(action="auth.failed").last()
    assert event is not None
    assert (event.actor_id, event.target_type, event.target_id) == (
        None,
        "account",
        "nobody@platform.example",
    )


def test_one_address_guessing_many_accounts_is_locked_out(client) -> None:
    victims = [make_user() for _ in range(8)]
    bystander = make_user()
    before = audit_mark()

    for victim in victims:
        login(client, victim.email, "Summer2024!")
    from_attacker = login(client, bystander.email, PASSWORD)
    assert "Try again in 15 minutes" in from_attacker.content.decode()
    assert not logged_in(client)

    from_elsewhere = login(client, bystander.email, PASSWORD, ip=ELSEWHERE)
    assert from_elsewhere.status_code == 302
    # No account reached its own limit: only the address is locked.
    assert actions_since(before) == ["auth.failed"] * 8 + [
        "auth.locked_out",
        "auth.refused_locked",
        "auth.password_ok",
    ]
    assert AuditEvent.objects.get(action="auth.locked_out").data["ip"] == ATTACKER


def test_a_forged_forwarded_for_header_does_not_escape_the_address_lock(client) -> None:
    bystander = make_user()
    for number in range(8):
        login(client, f"victim{number}@platform.example", "guess")

    response = login(client, bystander.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.200")

    assert "Try again in" in response.content.decode()
    assert not logged_in(client)


def test_guessing_the_second_factor_locks_the_account_and_then_the_right_code_is_refused(
    client,
) -> None:
    user = make_user()
    assert login(client, user.email, PASSWORD).status_code == 302
    before = audit_mark()

    for _ in range(4):
        response = client.post(
            "/login/verify/", {"method": "totp", "code": wrong_code(user)}, REMOTE_ADDR=ATTACKER
        )
        assert "not right" in response.content.decode()
    fifth = client.post(
        "/login/verify/", {"method": "totp", "code": wrong_code(user)}, REMOTE_ADDR=ATTACKER
    )
    right = client.post(
        "/login/verify/", {"method": "totp", "code": totp_code(user)}, REMOTE_ADDR=ATTACKER
    )

    assert "Try again in 15 minutes" in fifth.content.decode()
    assert right.status_code == 400
    assert "Try again in 15 minutes" in right.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert actions_since(before) == ["auth.failed"] * 5 + ["auth.locked_out", "auth.refused_locked"]
    assert AuthFailure.objects.filter(email=user.email, kind="second_factor").count() == 5
    # Opening the page is no try: it says how long the lock lasts and records nothing.
    mark = audit_mark()
    page = client.get("/login/verify/", REMOTE_ADDR=ATTACKER)
    assert "Try again in 15 minutes" in page.content.decode()
    assert actions_since(mark) == []

    # The password step of the same account is locked as well.
    client.post("/logout/")
    assert "Try again in" in login(client, user.email, PASSWORD).content.decode()
    assert not logged_in(client)


def test_tries_during_a_lock_are_audited_but_do_not_make_it_last_longer(client) -> None:
    user = make_user()
    for _ in range(5):
        login(client, user.email, "guess")
    before = audit_mark()

    login(client, user.email, "another guess")
    login(client, user.email, PASSWORD)

    assert actions_since(before) == ["auth.refused_locked"] * 2
    refused = list(AuditEvent.objects.filter(action="auth.refused_locked").order_by("seq"))
    assert [(e.actor_id, e.data["kind"], e.data["ip"]) for e in refused] == [
        (user.pk, "password", ATTACKER),
        (user.pk, "password", ATTACKER),
    ]
    assert all(840 < e.data["seconds"] <= 901 for e in refused)
    assert AuthFailure.objects.filter(email=user.email).count() == 5
    # The lock ends when the five counted failures leave the window, tries or not.
    AuthFailure.objects.update(at=timezone.now() - timedelta(minutes=15, seconds=1))
    assert login(client, user.email, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_code_tried_during_a_lock_is_audited_with_its_method(client) -> None:
    user = make_user()
    assert login(client, user.email, PASSWORD).status_code == 302
    for _ in range(5):
        client.post("/login/verify/", {"method": "totp", "code": wrong_code(user)})
    before = audit_mark()

    response = client.post("/login/verify/", {"method": "backup", "code": "abcdefgh"})

    assert response.status_code == 400
    assert actions_since(before) == ["auth.refused_locked"]
    refused = AuditEvent.objects.get(action="auth.refused_locked")
    assert (refused.actor_id, refused.data["kind"], refused.data["method"]) == (
        user.pk,
        "second_factor",
        "backup",
    )
    assert AuthFailure.objects.filter(email=user.email).count() == 5


def test_the_lock_lifts_once_the_failures_leave_the_window(client) -> None:
    user = make_user()
    for _ in range(5):
        login(client, user.email, "guess")
    assert "Try again in" in login(client, user.email, PASSWORD).content.decode()

    # Thirty seconds before the window ends, the lock still holds.
    almost = timezone.now() - timedelta(minutes=15) + timedelta(seconds=30)
    AuthFailure.objects.update(at=almost)
    assert "Try again in 1 minute." in login(client, user.email, PASSWORD).content.decode()

    AuthFailure.objects.update(at=timezone.now() - timedelta(minutes=15, seconds=1))
    response = login(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_a_passed_second_factor_clears_the_accounts_failures(client) -> None:
    user = make_user()
    for _ in range(4):
        login(client, user.email, "guess")
    login(client, user.email, PASSWORD)
    client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    assert DEVICE_ID_SESSION_KEY in client.session
    client.post("/logout/")

    for _ in range(4):
        login(client, user.email, "guess")
    response = login(client, user.email, PASSWORD)

    assert response.status_code == 302
    # The audit chain keeps every failure even though the counter was cleared.
    assert AuditEvent.objects.filter(action="auth.failed").count() == 8


def test_a_right_password_alone_does_not_clear_the_failures(client) -> None:
    """Otherwise a thief with the password could guess codes forever between logins."""
    user = make_user()
    login(client, user.email, PASSWORD)
    for _ in range(3):
        client.post("/login/verify/", {"method": "totp", "code": wrong_code(user)})
    client.post("/logout/")
    login(client, user.email, PASSWORD)
    client.post("/login/verify/", {"method": "totp", "code": wrong_code(user)})
    client.post("/login/verify/", {"method": "totp", "code": wrong_code(user)})

    response = client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})

    assert "Try again in" in response.content.decode()
    assert DEVICE_ID_SESSION_KEY not in client.session
