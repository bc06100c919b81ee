"""Until vetted, an officer sees only their status page (issue #3): every route, swept.

The routes come from the URL resolver, arguments filled in, so a page added later is
swept without anyone remembering to add it. An officer who is waiting for vetting, even
with a verified second factor, reaches only the pages open to them by design (marked
``@public``, ``@before_second_factor`` or ``@onboarding``): every other page sends them
to their status page, and every API path answers with a problem, never a page of
another role.
"""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.converters import IntConverter, PathConverter, SlugConverter, UUIDConverter

from accounts.access import BEFORE_SECOND_FACTOR, ONBOARDING, PUBLIC, ROLES, view_marker
from accounts.middleware import NAMESPACE_MARKERS
from accounts.models import Agency, Officer, Role
from tests.factories import log_in, make_agency, make_officer

pytestmark = pytest.mark.django_db

OPEN_MARKERS = (PUBLIC, BEFORE_SECOND_FACTOR, ONBOARDING)
# Sample values for the arguments of regex routes, by group name.
REGEX_SAMPLES = {"period_key": "2026", "app_label": "accounts", "url": "no-such-page/"}


def _sample(converter: Any) -> str:
    if isinstance(converter, IntConverter):
        return "1"
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-0000-0000-000000000001"
    if isinstance(converter, (SlugConverter, PathConverter)):
        return "sample"
    return "sample"


def _patterns(
    patterns: list[Any], prefix: str = "", namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespaces, pattern.name)) if pattern.name else ""
            yield name, prefix + str(pattern.pattern), pattern


def _path_of(name: str, route: str, pattern: URLPattern) -> str:
    """A concrete path that resolves to this pattern."""
    converters = getattr(pattern.pattern, "converters", {})
    if converters or not hasattr(pattern.pattern, "regex"):
        kwargs = {key: _sample(converter) for key, converter in converters.items()}
    else:
        kwargs = {key: REGEX_SAMPLES[key] for key in pattern.pattern.regex.groupindex}
    if name:
        return reverse(name, kwargs=kwargs or None)
    # An unnamed route: fill its placeholders by hand ("<int:pk>", or a regex group).
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: kwargs[m.group(1)], route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: kwargs[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


def every_route() -> dict[str, tuple[str, bool, frozenset[str] | None]]:
    """Every route: path -> (name, open to an onboarding officer, roles it declares)."""
    routes = {}
    for name, route, pattern in _patterns(get_resolver().url_patterns):
        path = _path_of(name, route, pattern)
        match = resolve(path)
        assert match.func is pattern.callback or name == "", (name, path)
        is_open = any(view_marker(match.func, marker) for marker in OPEN_MARKERS)
        is_open = is_open or NAMESPACE_MARKERS.get(match.namespace) in OPEN_MARKERS
        routes[path] = (name or route, is_open, getattr(match.func, ROLES, None))
    return routes


def pending_officer() -> Officer:
    """An officer who confirmed the mailbox and enrolled factors, waiting for vetting."""
    return make_officer(status=Officer.Status.PENDING)


def proposer_of_a_pending_agency() -> Officer:
    agency = make_agency(status=Agency.Status.PENDING, domain="proposed.example")
    officer = make_officer(agency=agency, status=Officer.Status.PENDING)
    Agency.objects.filter(pk=agency.pk).update(proposed_by=officer.user)
    return officer


def test_the_sweep_finds_the_routes_of_every_role_and_the_open_ones() -> None:
    routes = every_route()
    names = {name: (is_open, roles) for name, is_open, roles in routes.values()}

    for open_name in ("home", "officer-status", "factors", "logout", "login", "register"):
        assert names[open_name][0] is True, open_name
    for closed in ("vetting-queue", "vetting-agency", "vetting-agency-domains", "admin:index"):
        assert names[closed][0] is False, closed
    assert names["vetting-queue"][1] == {Role.VETTING_ADMIN}
    assert any(name.startswith("api-") for name in names)
    assert any(roles and Role.REVIEWER in roles for _, roles in names.values())


@pytest.mark.parametrize("who", [pending_officer, proposer_of_a_pending_agency])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_officer_waiting_for_vetting_reaches_only_their_own_onboarding_pages(
    client, who, method: str
) -> None:
    officer = who()
    log_in(client, officer.user)  # password and a verified second factor
    assert client.session.get("otp_device_id")

    reached = []
    for path, (name, is_open, roles) in every_route().items():
        if is_open and (roles is None or Role.OFFICER in roles):
            continue  # for every role by design: home, status, factors, logout, public pages
        response = getattr(client, method)(path)
        if path.startswith("/api/"):
            refused = response.status_code in (403, 404) and response["Content-Type"] == (
                "application/problem+json"
            )
        else:
            refused = response.status_code == 302 and response["Location"] == "/account/status/"
            refused = refused or (is_open and response.status_code in (403, 404))
        if not refused:
            reached.append((name, path, response.status_code))

    assert reached == []
    # Still logged in: the refusals came from the standing gate, not from a lost session.
    status = client.get("/account/status/")
    assert status.status_code == 200
    assert "Waiting for vetting" in status.content.decode()
