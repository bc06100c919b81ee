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
    assert client.get("/logout/").status_code == 405
    assert "_auth_user_id" in client.session

    response = client.post("/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


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
