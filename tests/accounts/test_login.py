"""Logging in and out of the web shell with a password."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from tests.factories import PASSWORD, log_in, make_user, totp_code

pytestmark = pytest.mark.django_db


def login(client, email: str, password: str):
    return client.post("/login/", {"username": email, "password": password})


def test_the_login_page_is_a_form_for_email_and_password(client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'autocomplete="username"' in page
    assert 'autocomplete="current-password"' in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_right_password_logs_in_and_rotates_the_session_id(client) -> None:
    user = make_user(full_name="Rosa Reviewer")
    client.get("/login/")
    client.session.save()
    before = client.cookies[settings.SESSION_COOKIE_NAME].value

    response = login(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/login/verify/"
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()

    response = client.post("/login/verify/", {"method": "totp", "code": totp_code(user)})
    assert response.status_code == 302
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != after
    assert "Rosa Reviewer" in client.get("/").content.decode()


def test_a_wrong_password_shows_an_error_and_logs_nobody_in(client) -> None:
    user = make_user()
    response = login(client, user.email, "not the password")
    assert response.status_code == 200
    assert "We could not log you in" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_deactivated_account_cannot_log_in(client) -> None:
    user = make_user(is_active=False)
    login(client, user.email, PASSWORD)
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post_and_ends_the_session(client) -> None:
    user = make_user()
    log_in(client, user)
    assert client.get("/logout/").status_code == 200
    assert "_auth_user_id" in client.session

    response = client.post("/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_opening_logout_asks_first_with_a_form_that_logs_out(client) -> None:
    # given a logged-in user
    user = make_user(email="rosa@platform.example")
    log_in(client, user)

    # when they open the logout address, as a link or a typed URL would
    response = client.get("/logout/")

    # then a page asks, with a form posting back to log out, and they are still logged in
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Log out?</h1>" in page
    assert "rosa@platform.example" in page
    assert '<form method="post" action="/logout/">' in page
    assert "csrfmiddlewaretoken" in page
    assert response["Cache-Control"].startswith("max-age=0")
    assert client.session["_auth_user_id"] == str(user.pk)
    # and the form's POST ends the session
    assert client.post("/logout/")["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_opening_logout_when_not_logged_in_offers_the_login_page(client) -> None:
    response = client.get("/logout/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "You are not logged in" in page
    assert '<a href="/login/">Log in</a> to use the portal.' in page
    assert 'action="/logout/"' not in page


def test_an_idle_session_expires_and_each_request_extends_it(client) -> None:
    user = make_user()
    log_in(client, user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    session = Session.objects.get(session_key=key)
    assert session.expire_date <= timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)

    # each request slides the expiry forward
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    client.get("/")
    assert Session.objects.get(pk=key).expire_date > timezone.now() + timedelta(minutes=25)

    # past the idle limit the session is gone
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    page = client.get("/").content.decode()
    assert user.full_name not in page
    assert "Log in" in page


def test_navigation_follows_the_role(client) -> None:
    admin = make_user(role="vetting_admin", is_staff=True)
    reviewer = make_user(role="reviewer")

    log_in(client, reviewer)
    assert "/admin/" not in client.get("/").content.decode()
    client.post("/logout/")

    log_in(client, admin)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_a_session_past_the_password_alone_is_shown_nothing_of_the_account(client) -> None:
    # given an administrator who gave the right password but no second factor yet
    admin = make_user(
        role="vetting_admin", is_staff=True, full_name="Vera Vetting", email="vera@platform.example"
    )
    login(client, admin.email, PASSWORD)

    # when the session opens the home page, or the second-factor page it is sent to
    home = client.get("/")
    verify = client.get("/login/verify/")
    logout = client.get("/logout/")

    # then the home page sends it on, and no page names the person, their role or pages
    assert (home.status_code, home["Location"]) == (302, "/login/verify/")
    for page in (verify.content.decode(), logout.content.decode()):
        for shown in ["Vera Vetting", "vera@platform.example", "Vetting administrator"]:
            assert shown not in page
        for link in ['href="/vetting/"', 'href="/admin/"', 'href="/staff/']:
            assert link not in page
        assert 'href="/login/verify/"' in page
        assert "Log out" in page

    # and once the second factor passed, the account is the user's to see
    client.post("/login/verify/", {"method": "totp", "code": totp_code(admin)})
    page = client.get("/").content.decode()
    assert "Welcome, Vera Vetting" in page
    assert "Vetting administrator" in page
    assert 'href="/admin/"' in page
