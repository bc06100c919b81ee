"""Changing a password, and resetting a forgotten one by mailbox link.

Attack tests check the refusal and that nothing was changed, sent or granted.
"""

import re
from datetime import datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import Agency, ApiToken, AuthFailure, Officer, Role, User
from accounts.services.password import (
    RESET_LINKS_PER_ACCOUNT_PER_HOUR,
    RESET_REQUESTS_PER_ADDRESS_PER_HOUR,
    password_change,
)
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import (
    PASSWORD,
    log_in,
    make_agency,
    make_api_token,
    make_officer,
    make_user,
    totp_code,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a quiet river under old bridges"
ATTACKER = "203.0.113.66"


@pytest.fixture(autouse=True)
def _lockout_limits(settings) -> None:
    settings.LOCKOUT_ACCOUNT_FAILURES = 5
    settings.LOCKOUT_ADDRESS_FAILURES = 20
    settings.LOCKOUT_MINUTES = 15


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST as a browser would, running what the view schedules after its commit."""

    def send(client, url: str, data: dict, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **extra)

    return send


def password_of(user: User) -> str:
    """Which of the test passwords the user's stored hash matches."""
    user.refresh_from_db()
    for candidate in (PASSWORD, NEW_PASSWORD):
        if user.check_password(candidate):
            return candidate
    return "something else"


def logged_in_as(client) -> int | None:
    """Whose session the client holds after one more request (Django checks it there)."""
    client.get("/")
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id is not None else None


def log_in_elsewhere(client, user: User) -> None:
    """A second session: the next code of the app (each code is accepted once)."""
    client.post("/login/", {"username": user.email, "password": PASSWORD})
    verified = client.post(
        "/login/verify/", {"method": "totp", "code": totp_code(user, offset_steps=1)}
    )
    assert verified.status_code == 302, verified.content


def change(post, client, *, current: str, new: str = NEW_PASSWORD, again: str | None = None):
    return post(
        client,
        "/account/password/",
        {"old_password": current, "new_password1": new, "new_password2": again or new},
        REMOTE_ADDR=ATTACKER,
    )


def ask_for_link(post, client, email: str, ip: str = "192.0.2.10"):
    return post(client, "/password/reset/", {"email": email}, REMOTE_ADDR=ip)


def link_path(message) -> str:
    """The path of the reset link in an email (``/password/reset/<uid>/<token>/``)."""
    found = re.findall(r"\S+/password/reset/[^/\s]+/[^/\s]+/", message.body)
    assert len(found) == 1, message.body
    assert found[0].startswith(settings.PORTAL_AUDIENCE + "/")
    return urlsplit(found[0]).path


def reset_path(user: User, token: str | None = None) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/password/reset/{uid}/{token or default_token_generator.make_token(user)}/"


def mail_of_link(user: User):
    [message] = [m for m in mail.outbox if m.subject.startswith("Reset your password")]
    assert message.to == [user.email]
    return message


def follow_link(post, client, path: str, new: str = NEW_PASSWORD):
    """Open the link (Django moves its token into the session), then set the password."""
    opened = client.get(path)
    assert opened.status_code == 302, opened.content
    form_path = opened["Location"]
    assert client.get(form_path).status_code == 200
    return post(client, form_path, {"new_password1": new, "new_password2": new})


# --- Changing the password -------------------------------------------------------------------


def test_changing_the_password_keeps_this_session_ends_the_others_and_sends_a_notice(
    client, post
) -> None:
    user = make_user()
    elsewhere = Client()
    log_in(client, user)
    log_in_elsewhere(elsewhere, user)
    before = audit_mark()

    response = change(post, client, current=PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/account/factors/"
    assert password_of(user) == NEW_PASSWORD
    assert client.get("/account/password/").status_code == 200  # still verified here
    assert logged_in_as(elsewhere) is None
    assert elsewhere.get("/account/password/")["Location"].startswith("/login/")
    assert actions_since(before) == ["auth.password_changed"]
    event = AuditEvent.objects.get(action="auth.password_changed")
    assert (event.actor_id, event.target_id, event.data) == (
        user.pk,
        str(user.pk),
        {"ip": ATTACKER, "revoke_tokens": False, "api_tokens_revoked": 0},
    )
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert mail.outbox[0].subject == "Your authority portal password was changed"
    assert "Every other session of the account has ended" in mail.outbox[0].body
    assert NEW_PASSWORD not in mail.outbox[0].body


@pytest.mark.parametrize(
    "who",
    ["active officer", "pending officer", "reviewer", "vetting administrator"],
)
def test_every_role_may_change_its_password(client, post, who) -> None:
    user = {
        "active officer": lambda: make_officer().user,
        "pending officer": lambda: make_officer(status=Officer.Status.PENDING).user,
        "reviewer": lambda: make_user(role=Role.REVIEWER),
        "vetting administrator": lambda: make_user(role=Role.VETTING_ADMIN),
    }[who]()
    log_in(client, user)

    assert change(post, client, current=PASSWORD).status_code == 302
    assert password_of(user) == NEW_PASSWORD


def test_a_wrong_current_password_is_refused_counted_and_audited_and_nothing_changes(
    client, post
) -> None:
    user = make_user()
    log_in(client, user)
    before = audit_mark()

    response = change(post, client, current="not my password at all")

    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    assert password_of(user) == PASSWORD
    assert AuthFailure.objects.filter(email=user.email, kind="password", ip=ATTACKER).count() == 1
    assert actions_since(before) == ["auth.failed", "auth.password_change_refused"]
    assert mail.outbox == []


def test_wrong_current_passwords_lock_the_account_and_the_right_one_is_then_not_checked(
    client, post
) -> None:
    user = make_user()
    log_in(client, user)

    for _ in range(4):
        change(post, client, current="guess")
    fifth = change(post, client, current="guess")
    right = change(post, client, current=PASSWORD)

    assert "Too many failed attempts. Try again in 15 minutes." in fifth.content.decode()
    assert right.status_code == 400
    assert "Too many failed attempts" in right.content.decode()
    assert password_of(user) == PASSWORD
    assert AuthFailure.objects.filter(email=user.email).count() == 5
    assert AuditEvent.objects.filter(action="auth.locked_out", actor_id=user.pk).count() == 1
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()
    # The same lock holds at the login page, from the address that guessed (not from
    # others: one address alone cannot lock the officer out, tests/accounts/test_lockout.py).
    login = Client().post(
        "/login/", {"username": user.email, "password": PASSWORD}, REMOTE_ADDR=ATTACKER
    )
    assert "Try again in" in login.content.decode()


@pytest.mark.parametrize(
    ("new", "again", "message"),
    [
        ("short pass", None, "too short"),
        ("password1234", None, "too common"),
        ("739184625073", None, "entirely numeric"),
        (NEW_PASSWORD, "a quiet river under new bridges", "didn’t match"),
    ],
)
def test_a_weak_or_mistyped_new_password_is_refused_and_nothing_changes(
    client, post, new, again, message
) -> None:
    user = make_user()
    log_in(client, user)
    before = audit_mark()

    response = change(post, client, current=PASSWORD, new=new, again=again)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert password_of(user) == PASSWORD
    assert actions_since(before) == []
    assert not AuthFailure.objects.exists()
    assert mail.outbox == []


def test_a_new_password_like_the_address_is_refused(client, post) -> None:
    user = make_user(email="winston.smith@platform.example")
    log_in(client, user)

    response = change(post, client, current=PASSWORD, new="winston.smith@platform")

    assert response.status_code == 400
    assert "too similar" in response.content.decode()
    assert password_of(user) == PASSWORD


def test_a_password_alone_cannot_change_the_password(client, post) -> None:
    user = make_user()
    client.post("/login/", {"username": user.email, "password": PASSWORD})

    response = change(post, client, current=PASSWORD)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/verify/")
    assert password_of(user) == PASSWORD
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()


# --- Asking for a reset link -------------------------------------------------------------------


def test_a_reset_for_an_unknown_address_gives_the_same_answer_and_sends_nothing(post) -> None:
    user = make_user()
    known, unknown = Client(), Client()

    for_known = ask_for_link(post, known, user.email)
    assert len(mail.outbox) == 1
    before = audit_mark()
    for_unknown = ask_for_link(post, unknown, "nobody@platform.example")

    assert for_known.status_code == for_unknown.status_code == 302
    assert for_known["Location"] == for_unknown["Location"] == "/password/reset/"
    page_known = known.get("/password/reset/").content.decode()
    page_unknown = unknown.get("/password/reset/").content.decode()
    assert "If an account with that address exists" in page_unknown
    assert re.sub(r'value="[^"]+"', "", page_known) == re.sub(r'value="[^"]+"', "", page_unknown)
    assert len(mail.outbox) == 1
    assert actions_since(before) == []


def test_a_reset_request_mails_a_link_to_the_configured_origin_and_audits_it(post) -> None:
    user = make_user()

    ask_for_link(post, Client(), user.email.upper(), ip=ATTACKER)

    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "Reset your password for the authority portal"
    assert "within 60 minutes" in message.body
    link_path(message)  # on PORTAL_AUDIENCE, never the request's Host
    event = AuditEvent.objects.get(action="auth.password_reset_requested")
    assert (event.actor_id, event.target_id, event.data) == (
        None,
        str(user.pk),
        {"ip": ATTACKER, "link_sent": True},
    )


@pytest.mark.parametrize("account", ["mailbox never verified", "deactivated"])
def test_an_account_that_may_not_reset_gets_the_same_answer_and_no_link(post, account) -> None:
    if account == "mailbox never verified":
        officer = make_officer(status=Officer.Status.EMAIL_UNVERIFIED)
        Officer.objects.filter(pk=officer.pk).update(email_verified_at=None)
        User.objects.filter(pk=officer.user.pk).update(is_active=False)
        user, reason = officer.user, "mailbox_unverified"
    else:
        user, reason = make_user(is_active=False), "inactive"
    client = Client()

    response = ask_for_link(post, client, user.email)

    assert response["Location"] == "/password/reset/"
    assert (
        "If an account with that address exists" in client.get("/password/reset/").content.decode()
    )
    assert mail.outbox == []
    event = AuditEvent.objects.get(action="auth.password_reset_requested")
    assert event.data == {"ip": "192.0.2.10", "link_sent": False, "reason": reason}


def test_reset_links_to_one_account_are_limited_and_the_answer_does_not_change(post) -> None:
    user = make_user()
    answers = []

    for number in range(RESET_LINKS_PER_ACCOUNT_PER_HOUR + 2):
        client = Client()
        response = ask_for_link(post, client, user.email, ip=f"192.0.2.{number + 1}")
        answers.append((response.status_code, response["Location"]))

    assert set(answers) == {(302, "/password/reset/")}
    assert len(mail.outbox) == RESET_LINKS_PER_ACCOUNT_PER_HOUR
    sent = [
        event.data["link_sent"]
        for event in AuditEvent.objects.filter(action="auth.password_reset_requested").order_by(
            "seq"
        )
    ]
    assert sent == [True] * RESET_LINKS_PER_ACCOUNT_PER_HOUR + [False, False]
    assert AuditEvent.objects.filter(data__reason="too_many_links").count() == 2


def test_reset_requests_from_one_network_address_are_limited(post) -> None:
    user = make_user()
    client = Client()
    for number in range(RESET_REQUESTS_PER_ADDRESS_PER_HOUR):
        response = ask_for_link(post, client, f"nobody{number}@platform.example", ip=ATTACKER)
        assert response.status_code == 302
    before = audit_mark()

    refused = ask_for_link(post, client, user.email, ip=ATTACKER)
    elsewhere = ask_for_link(post, Client(), user.email, ip="192.0.2.77")

    assert refused.status_code == 429
    assert "Too many reset requests came from your network" in refused.content.decode()
    assert elsewhere.status_code == 302
    # Only the request from elsewhere reached the account.
    assert actions_since(before) == ["auth.password_reset_requested"]
    assert len(mail.outbox) == 1


def test_reset_requests_still_work_while_the_cache_is_down(post, caplog) -> None:
    user = make_user()

    with mock.patch(
        "accounts.services.password.cache.add", side_effect=RedisConnectionError("down")
    ):
        response = ask_for_link(post, Client(), user.email)

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "limit per address not enforced" in caplog.text


# --- Following the link ----------------------------------------------------------------------


def test_the_reset_link_sets_the_password_ends_every_session_and_does_not_log_in(
    client, post
) -> None:
    user = make_user()
    log_in(client, user)
    browser = Client()
    ask_for_link(post, browser, user.email)
    path = link_path(mail_of_link(user))
    before = audit_mark()
    mail.outbox.clear()

    done = follow_link(post, browser, path)

    assert done.status_code == 302
    assert done["Location"] == "/login/"
    assert password_of(user) == NEW_PASSWORD
    assert actions_since(before) == ["auth.password_reset"]
    assert logged_in_as(browser) is None  # the reset logs nobody in
    assert logged_in_as(client) is None  # the session opened before it has ended
    [notice] = mail.outbox
    assert (notice.to, notice.subject) == ([user.email], "Your authority portal password was reset")
    # The new password is only the first step: the second factor is still asked for.
    step = browser.post("/login/", {"username": user.email, "password": NEW_PASSWORD})
    assert step["Location"] == "/login/verify/"
    assert browser.get("/account/password/")["Location"].startswith("/login/verify/")
    code = totp_code(user, offset_steps=1)  # the current code was used to log in before
    verified = browser.post("/login/verify/", {"method": "totp", "code": code})
    assert verified.status_code == 302
    assert browser.get("/account/password/").status_code == 200


def test_a_used_link_is_refused_and_the_password_stays(post) -> None:
    user = make_user()
    ask_for_link(post, Client(), user.email)
    path = link_path(mail_of_link(user))
    follow_link(post, Client(), path)
    before = audit_mark()
    mail.outbox.clear()

    again = Client().get(path)

    assert again.status_code == 400
    assert "This link does not work" in again.content.decode()
    assert password_of(user) == NEW_PASSWORD
    assert actions_since(before) == ["auth.password_reset_link_refused"]
    assert mail.outbox == []


def test_a_link_is_refused_if_the_password_changed_after_it_was_opened(post) -> None:
    user = make_user()
    browser = Client()
    opened = browser.get(reset_path(user))
    form_path = opened["Location"]
    password_change(user=user, password="another long passphrase here", ip=None)
    before = audit_mark()

    response = post(
        browser, form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password("another long passphrase here")
    assert actions_since(before) == ["auth.password_reset_link_refused"]


def test_an_expired_link_is_refused_and_the_password_stays(post) -> None:
    user = make_user()
    made_at = datetime.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)  # noqa: DTZ005 (Django's generator counts in naive local time)
    with mock.patch.object(PasswordResetTokenGenerator, "_now", return_value=made_at):
        token = default_token_generator.make_token(user)
    browser = Client()

    opened = browser.get(reset_path(user, token))
    posted = post(
        browser,
        reset_path(user, "set-password"),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert opened.status_code == posted.status_code == 400
    assert "This link does not work" in posted.content.decode()
    assert password_of(user) == PASSWORD
    assert not AuditEvent.objects.filter(action="auth.password_reset").exists()
    event = AuditEvent.objects.filter(action="auth.password_reset_link_refused").first()
    assert event is not None
    assert event.target_id == str(user.pk)


def test_a_link_made_for_another_user_is_refused_and_neither_password_changes(post) -> None:
    victim, attacker = make_user(), make_user()
    token_of_attacker = default_token_generator.make_token(attacker)
    browser = Client()

    opened = browser.get(reset_path(victim, token_of_attacker))

    assert opened.status_code == 400
    assert password_of(victim) == PASSWORD
    assert password_of(attacker) == PASSWORD
    assert AuditEvent.objects.filter(action="auth.password_reset_link_refused").count() == 1


@pytest.mark.parametrize("damage", ["token", "uid", "unknown uid"])
def test_a_tampered_link_is_refused_and_nothing_changes(post, damage) -> None:
    user = make_user()
    path = reset_path(user)
    _, _, _, uid, token, _ = path.split("/")
    if damage == "token":
        token = token[:-1] + ("a" if token[-1] != "a" else "b")
    elif damage == "uid":
        uid = "not-base64!"
    else:
        uid = urlsafe_base64_encode(force_bytes(user.pk + 1000))
    browser = Client()

    opened = browser.get(f"/password/reset/{uid}/{token}/")
    posted = post(
        browser,
        f"/password/reset/{uid}/set-password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert opened.status_code == posted.status_code == 400
    assert "This link does not work" in opened.content.decode()
    assert password_of(user) == PASSWORD
    assert not AuditEvent.objects.filter(action="auth.password_reset").exists()
    assert mail.outbox == []


def test_a_weak_password_from_a_valid_link_is_refused_and_the_link_still_works(post) -> None:
    user = make_user()
    browser = Client()
    form_path = browser.get(reset_path(user))["Location"]

    weak = post(
        browser, form_path, {"new_password1": "password1234", "new_password2": "password1234"}
    )
    assert weak.status_code == 200
    assert "too common" in weak.content.decode()
    assert password_of(user) == PASSWORD

    strong = post(
        browser, form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert strong["Location"] == "/login/"
    assert password_of(user) == NEW_PASSWORD


@pytest.mark.parametrize("suspended", ["officer", "agency"])
def test_a_suspended_officer_may_reset_but_still_cannot_log_in(post, suspended) -> None:
    if suspended == "officer":
        officer = make_officer(status=Officer.Status.SUSPENDED)
    else:
        officer = make_officer(agency=make_agency(status=Agency.Status.SUSPENDED))
    user = officer.user
    browser = Client()

    ask_for_link(post, browser, user.email)
    follow_link(post, browser, link_path(mail_of_link(user)))
    assert password_of(user) == NEW_PASSWORD

    browser.post("/login/", {"username": user.email, "password": NEW_PASSWORD})
    browser.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    page = browser.get("/account/password/", follow=True)

    assert logged_in_as(browser) is None
    assert "suspended" in page.content.decode()


# --- API tokens end with a reset, and with a change if the officer asks -------------------


def live_tokens(officer) -> int:
    return ApiToken.objects.filter(officer=officer, revoked_at__isnull=True).count()


def test_a_password_reset_revokes_every_api_token_of_the_officer(post) -> None:
    """A reset says the password may be lost: a token made with it must not outlive it."""
    officer = make_officer()
    secrets = [make_api_token(officer=officer, name=f"system {n}")[1] for n in range(2)]
    other = make_officer()
    make_api_token(officer=other)
    browser = Client()
    ask_for_link(post, browser, officer.user.email)
    before = audit_mark()

    assert follow_link(post, browser, link_path(mail_of_link(officer.user))).status_code == 302

    assert live_tokens(officer) == 0
    assert live_tokens(other) == 1
    for secret in secrets:
        answer = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert answer.status_code == 401
    assert actions_since(before) == ["api_token.revoked"] * 2 + ["auth.password_reset"]
    reset = AuditEvent.objects.get(action="auth.password_reset")
    assert reset.data["api_tokens_revoked"] == 2
    reasons = AuditEvent.objects.filter(action="api_token.revoked").values_list(
        "data__reason", flat=True
    )
    assert list(reasons) == ["password_reset"] * 2


def change_as_officer(post, client, *, revoke: bool):
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    if revoke:
        data["revoke_tokens"] = "on"
    return post(client, "/account/password/", data, REMOTE_ADDR=ATTACKER)


def test_a_password_change_with_the_box_ticked_revokes_the_tokens_and_audits_it(
    client, post
) -> None:
    officer = make_officer()
    _, secret = make_api_token(officer=officer)
    log_in(client, officer.user)
    assert 'name="revoke_tokens"' in client.get("/account/password/").content.decode()
    before = audit_mark()

    response = change_as_officer(post, client, revoke=True)

    assert response.status_code == 302
    assert live_tokens(officer) == 0
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert actions_since(before) == ["api_token.revoked", "auth.password_changed"]
    changed = AuditEvent.objects.get(action="auth.password_changed")
    assert changed.data == {"ip": ATTACKER, "revoke_tokens": True, "api_tokens_revoked": 1}


def test_a_password_change_without_the_box_keeps_the_tokens_and_audits_the_choice(
    client, post
) -> None:
    officer = make_officer()
    _, secret = make_api_token(officer=officer)
    log_in(client, officer.user)

    change_as_officer(post, client, revoke=False)

    assert live_tokens(officer) == 1
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    changed = AuditEvent.objects.get(action="auth.password_changed")
    assert changed.data["revoke_tokens"] is False


def test_the_box_is_offered_to_officers_only(client) -> None:
    log_in(client, make_user())

    assert "revoke_tokens" not in client.get("/account/password/").content.decode()
