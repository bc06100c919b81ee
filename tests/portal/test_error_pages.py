"""Refusals a browser can meet outside any view's own rules: a failed CSRF check and a
method the address does not take. Both render in the portal's layout under its CSP; under
/api/ both stay problem documents.
"""

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken

from portal.models import AuditEvent
from tests.factories import log_in, make_user
from tests.problems import assert_problem

from .problem_views import post_only, serve

pytestmark = pytest.mark.django_db


@pytest.fixture
def csrf_client() -> Client:
    """A client that, like a browser, gets no pass on the CSRF check."""
    return Client(enforce_csrf_checks=True)


def assert_portal_page(response: Any, status: int) -> str:
    """Check that the answer is a page in the portal's layout, under its CSP."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<a class="brand" href="/">Authority portal</a>' in page
    assert 'rel="stylesheet" href="/static/css/portal.css"' in page
    assert "<style" not in page
    assert " style=" not in page
    policy = response["Content-Security-Policy"]
    assert "style-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    return page


def test_a_login_posted_without_a_csrf_token_is_refused_in_the_portal_layout(
    csrf_client: Client,
) -> None:
    # given a real account
    user = make_user()

    # when its right password is posted without the form's CSRF token
    response = csrf_client.post("/login/", {"username": user.email, "password": "x"})

    # then the portal refuses with its own page that says how to recover
    page = assert_portal_page(response, 403)
    assert "<h1>That form could not be sent</h1>" in page
    assert "reload the page to get a fresh form" in page
    # and nobody was logged in, and no login was audited
    assert "_auth_user_id" not in csrf_client.session
    assert not AuditEvent.objects.filter(action="auth.password_ok").exists()


def test_a_logout_forged_from_another_site_is_refused_and_the_session_stays(
    csrf_client: Client,
) -> None:
    # given a logged-in user
    user = make_user()
    csrf_client.force_login(user)

    # when another site makes their browser post to /logout/ (it cannot know the token)
    response = csrf_client.post("/logout/")

    # then it is refused, the user is still logged in, and no logout was audited
    assert "<h1>That form could not be sent</h1>" in assert_portal_page(response, 403)
    assert csrf_client.session["_auth_user_id"] == str(user.pk)
    assert not AuditEvent.objects.filter(action="auth.logout").exists()


def test_the_same_post_with_the_pages_csrf_token_goes_through(csrf_client: Client) -> None:
    # the control for the two tests above: the token the page hands out is accepted
    user = make_user()
    csrf_client.force_login(user)
    csrf_client.get("/logout/")
    token = csrf_client.cookies[settings.CSRF_COOKIE_NAME].value

    response = csrf_client.post("/logout/", {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert "_auth_user_id" not in csrf_client.session


def test_a_csrf_failure_under_the_api_is_a_forbidden_problem() -> None:
    # a plain Django view under /api/ (the API's own views check CSRF through DRF)
    response = serve(post_only, "post", "/api/test/post-only", enforce_csrf_checks=True)

    document = assert_problem(response, status=403, code="forbidden")
    assert document["detail"] == "The request failed the CSRF check."


def test_posting_to_healthz_renders_the_method_not_allowed_page(client: Client) -> None:
    response = client.post("/healthz")

    page = assert_portal_page(response, 405)
    assert "<h1>This address cannot be used that way</h1>" in page
    assert "a POST request" in page
    # and the headers of the refusal stay: what is allowed, and never cached
    assert response["Allow"] == "GET"
    assert "no-cache" in response["Cache-Control"]


def test_opening_an_action_address_in_the_browser_shows_a_page_and_changes_nothing(
    client: Client,
) -> None:
    # given a logged-in user with backup codes
    user = make_user()
    log_in(client, user)
    codes_before = set(
        StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    )

    # when they open the address that renews the codes, which only takes a POST
    response = client.get("/account/factors/backup-codes/")

    # then they see a page in the layout, logged in, and their codes are the same
    page = assert_portal_page(response, 405)
    assert "<h1>This address cannot be used that way</h1>" in page
    assert user.full_name in page
    assert response["Allow"] == "POST"
    codes_after = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert codes_after == codes_before


def test_a_wrong_method_on_a_class_based_page_renders_the_page(client: Client) -> None:
    response = client.delete("/login/")

    assert "<h1>This address cannot be used that way</h1>" in assert_portal_page(response, 405)
    assert "a DELETE request" in response.content.decode()
    assert "GET" in response["Allow"].split(", ")


def test_a_wrong_method_on_a_plain_api_view_is_a_problem_with_allow() -> None:
    response = serve(post_only, "get", "/api/test/post-only")

    document = assert_problem(response, status=405, code="method_not_allowed")
    assert document["detail"] == "GET is not allowed here."
    assert response["Allow"] == "POST"


def test_a_wrong_method_on_a_drf_view_keeps_the_problem_drf_wrote(client: Client) -> None:
    response = client.post("/api/v1/portal-key")

    document = assert_problem(response, status=405, code="method_not_allowed")
    assert document["detail"] == 'Method "POST" not allowed.'
