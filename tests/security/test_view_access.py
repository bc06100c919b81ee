"""Every view says who it is for; the list is built from the URL resolver.

The standing middleware closes every page to anyone without a verified second factor
(``tests/accounts/test_gate.py`` proves that on every route). Past that gate, a page is
for a role: an officer must not reach a reviewer's page because its view forgot
``role_required``. So each view declares its audience, one of:

- ``@public``, ``@before_second_factor`` or ``@onboarding`` (pages for every role or
  none: login, second factors, the officer's status page);
- ``@role_required(...)``;
- for the API, DRF permission classes the view sets itself, and ``AllowAny`` only where
  listed below with the reason.

The Django admin (its own site-wide staff and second-factor check) and the passkey
ceremony endpoints (``accounts.middleware.NAMESPACE_MARKERS``) answer for themselves.
"""

from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from accounts.access import (
    BEFORE_SECOND_FACTOR,
    ONBOARDING,
    PUBLIC,
    ROLES,
    public,
    role_required,
)
from accounts.middleware import NAMESPACE_MARKERS
from accounts.models import Role

SELF_GUARDED_NAMESPACES = {"admin", *NAMESPACE_MARKERS}
OPEN_API = {
    "api-submissions": "intake's channel check decides who submits, and logs each refusal",
    "api-portal-key": "the portal's public key, for checking receipts",
    "api-schema": "the public description of the API",
    "api-docs": "the public description of the API",
    "api-audit-tree-head-latest": "signed audit tree heads are public, no event content",
    "api-audit-tree-head": "signed audit tree heads are public, no event content",
    "api-audit-consistency": "consistency proofs are public: hashes, no event content",
}


def _patterns(
    patterns: list[Any], namespaces: tuple[str, ...] = ()
) -> Iterator[tuple[str, tuple[str, ...], URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = (*namespaces, pattern.namespace) if pattern.namespace else namespaces
            yield from _patterns(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield pattern.name or str(pattern.pattern), namespaces, pattern


def _api_problem(name: str, callback: Any, view_class: type[APIView]) -> str | None:
    initkwargs = getattr(callback, "initkwargs", {})
    declared = "permission_classes" in initkwargs or any(
        "permission_classes" in vars(k) for k in view_class.__mro__ if k is not APIView
    )
    if not declared:
        return "an API view that leaves its permissions to the project default"
    permissions = initkwargs.get("permission_classes", view_class.permission_classes)
    if AllowAny in permissions and name not in OPEN_API:
        return "an API view open to anyone (AllowAny) that is not in OPEN_API"
    return None


def undeclared_views(patterns: list[Any]) -> dict[str, str]:
    """The routes whose view does not say who it is for, with what is missing."""
    missing = {}
    for name, namespaces, pattern in _patterns(patterns):
        if SELF_GUARDED_NAMESPACES & set(namespaces):
            continue
        callback: Callable[..., Any] = pattern.callback
        view_class = getattr(callback, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            problem = _api_problem(name, callback, view_class)
        elif any(getattr(callback, marker, False) for marker in (PUBLIC, ROLES)):
            problem = None
        elif any(getattr(callback, marker, False) for marker in (BEFORE_SECOND_FACTOR, ONBOARDING)):
            problem = None  # for every role by design: login, second factors, status
        else:
            problem = "no @public, @before_second_factor, @onboarding or @role_required"
        if problem is not None:
            missing[":".join((*namespaces, name))] = problem
    return missing


def test_every_view_of_the_portal_says_who_it_is_for():
    assert undeclared_views(get_resolver().url_patterns) == {}


def test_every_open_api_view_is_still_there_to_be_open():
    names = {name for name, _, _ in _patterns(get_resolver().url_patterns)}
    assert set(OPEN_API) <= names


# --- The rule can fail ----------------------------------------------------------------------


def a_page() -> Callable[..., HttpResponse]:
    """A new view function each time (the access decorators mark the function itself)."""

    def page(request: Any) -> HttpResponse:
        return HttpResponse("")

    return page


class DefaultPermissions(APIView):
    def get(self, request: Any) -> HttpResponse:
        return HttpResponse("")


class OpenToAll(APIView):
    permission_classes = [AllowAny]


class OfficersOnly(APIView):
    permission_classes = [IsAuthenticated]


def test_a_view_without_a_declared_audience_is_found():
    patterns = [
        path("forgotten/", a_page(), name="forgotten"),
        path("reviewers/", role_required(Role.REVIEWER)(a_page()), name="reviewers"),
        path("open/", public(a_page()), name="open"),
        path("api/default", DefaultPermissions.as_view(), name="api-default"),
        path("api/open", OpenToAll.as_view(), name="api-open"),
        path("api/officers", OfficersOnly.as_view(), name="api-officers"),
    ]

    assert set(undeclared_views(patterns)) == {"forgotten", "api-default", "api-open"}


def test_role_required_leaves_its_roles_on_the_view_through_other_decorators():
    from django.views.decorators.http import require_POST

    view = require_POST(role_required(Role.VETTING_ADMIN, Role.REVIEWER)(a_page()))

    assert getattr(view, ROLES) == {Role.VETTING_ADMIN, Role.REVIEWER}
