"""Every authenticated page of every role needs the second factor, the admin site included.

The pages are found from the URL resolver, not listed by hand: a page added later is
checked by these tests without anyone remembering to add it.
"""

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import NoReverseMatch

from accounts.access import BEFORE_SECOND_FACTOR, PUBLIC, view_marker
from accounts.middleware import NAMESPACE_MARKERS
from accounts.models import Officer, Role
from tests.factories import PASSWORD, log_in, make_officer, make_user
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _named_patterns(
    patterns: list, namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _named_patterns(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield ":".join((*namespaces, pattern.name)), pattern


def gated_paths() -> dict[str, str]:
    """Every named route without required arguments that is not open before the second
    factor, by name: the pages and API paths a password alone must not reach."""
    paths = {}
    for name, _pattern in _named_patterns(get_resolver().url_patterns):
        try:
            path = reverse(name)
        except NoReverseMatch:
            continue  # needs arguments
        match = resolve(path)
        if view_marker(match.func, PUBLIC) or view_marker(match.func, BEFORE_SECOND_FACTOR):
            continue
        if NAMESPACE_MARKERS.get(match.namespace) in (PUBLIC, BEFORE_SECOND_FACTOR):
            continue
        paths[name] = path
    return paths


def password_only(client, user) -> None:
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content


def users_of_every_role():
    return {
        "officer": make_officer().user,
        "pending officer": make_officer(status=Officer.Status.PENDING).user,
        "reviewer": make_user(role=Role.REVIEWER),
        "vetting administrator": make_user(
            role=Role.VETTING_ADMIN, is_staff=True, is_superuser=True
        ),
    }


def test_the_gated_list_is_found_from_the_resolver_and_covers_known_pages() -> None:
    paths = gated_paths()

    for name in ["backup-codes-renew", "officer-status", "admin:index", "api-me"]:
        assert name in paths
    for open_name in [
        "home",
        "login",
        "login-verify",
        "logout",
        "factors",
        "passkey-enrol",
        "api-schema",
        "api-docs",
        "api-portal-key",
    ]:
        assert open_name not in paths
    assert not any(name.startswith("otp_webauthn:") for name in paths)


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_password_alone_reaches_no_authenticated_page_of_any_role(client, method) -> None:
    paths = gated_paths()
    reached = []
    for role, user in users_of_every_role().items():
        client.post("/logout/")
        password_only(client, user)
        for name, path in paths.items():
            response = getattr(client, method)(path)
            if path.startswith("/api/"):
                refused = (
                    response.status_code == 401
                    and response["Content-Type"] == "application/problem+json"
                )
            else:
                refused = response.status_code == 302 and response["Location"].startswith(
                    "/login/verify/"
                )
            if not refused:
                reached.append((role, name, path, response.status_code))

    assert reached == []


def test_every_authenticated_page_sends_the_anonymous_to_the_login_page(client) -> None:
    for path in gated_paths().values():
        if path.startswith("/api/"):
            continue  # the API authenticates its own callers by token
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/"), path


def test_the_admin_refuses_a_superuser_without_the_second_factor(client) -> None:
    superuser = make_user(role=Role.VETTING_ADMIN, is_staff=True, is_superuser=True)
    password_only(client, superuser)

    for path in ["/admin/", "/admin/accounts/user/", "/admin/login/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/verify/"), path

    client.post("/logout/")
    log_in(client, superuser)
    assert client.get("/admin/").status_code == 200


def test_the_admin_site_itself_requires_a_verified_user() -> None:
    """The admin's own gate, should a request ever arrive without the middleware."""
    superuser = make_user(role=Role.VETTING_ADMIN, is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    superuser.is_verified = lambda: False

    assert admin.site.has_permission(request) is False

    superuser.is_verified = lambda: True
    assert admin.site.has_permission(request) is True


def test_an_api_call_with_a_password_only_session_is_a_401_problem(client) -> None:
    password_only(client, make_user())

    response = client.get("/api/v1/me")

    problem = assert_problem(response, status=401, code="unauthenticated")
    assert "second factor" in problem["detail"]


def test_a_user_without_factors_is_sent_to_enrol_them(client) -> None:
    user = make_user(totp=False)

    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response["Location"] == "/account/factors/"

    # Any gated page leads, through the second-factor step, to enrolment.
    response = client.get("/account/status/", follow=True)
    assert response.redirect_chain[-1][0] == "/account/factors/"
    assert "Second factors" in response.content.decode()
    assert "not complete yet" in response.content.decode()


def test_a_user_with_factors_cannot_skip_to_enrolment_pages_with_a_password(client) -> None:
    user = make_user()
    password_only(client, user)

    for path in ["/account/factors/", "/account/factors/totp/", "/account/factors/passkey/"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/verify/"), path
    response = client.post("/account/factors/totp/", {"code": "123456"})
    assert response["Location"].startswith("/login/verify/")


# --- The API's public documentation and its officer-only answers --------------------------


PUBLIC_API_PATHS = ["/api/v1/schema", "/api/v1/docs", "/api/v1/portal-key"]


def sessions_of_every_standing():
    """A client for each kind of visitor the gate tells apart, logged in as they can be."""
    anonymous = Client()
    password_alone = Client()
    password_only(password_alone, make_user())
    visitors = {"anonymous": anonymous, "password only": password_alone}
    for role, user in users_of_every_role().items():
        visitors[role] = Client()
        log_in(visitors[role], user)
    return visitors


def test_the_api_description_and_the_portal_key_are_public_to_every_session() -> None:
    answers = {
        (who, path): visitor.get(path).status_code
        for who, visitor in sessions_of_every_standing().items()
        for path in PUBLIC_API_PATHS
    }

    assert set(answers.values()) == {200}, answers


def test_a_session_of_another_role_gets_403_forbidden_from_every_officer_only_api(client) -> None:
    log_in(client, make_user(role=Role.REVIEWER))

    for path in ["/api/v1/me", "/api/v1/submissions", "/api/v1/submissions/LR-2026-000001"]:
        response = client.get(path)
        assert_problem(response, status=403, code="forbidden")


def test_no_caller_gets_401_unauthenticated_from_every_officer_only_api(client) -> None:
    for path in ["/api/v1/me", "/api/v1/submissions", "/api/v1/submissions/LR-2026-000001"]:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated", path
        assert response["WWW-Authenticate"] == 'Bearer realm="portal"', path
