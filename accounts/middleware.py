"""The gate in front of every page: standing, second factor, onboarding.

Runs after Django's authentication and django-otp's middleware, on the resolved view
(``process_view``), so it can read the markers of ``accounts.access``. Checked on every
request, so suspending an officer or an agency ends their live sessions at once.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext

from portal.problems import is_api_request, problem_response

from .access import BEFORE_SECOND_FACTOR, ONBOARDING, PUBLIC, view_marker
from .models import AGENCY_ROLES, Officer

# Third-party URL namespaces and the gate they pass. The passkey ceremony endpoints check
# the user themselves; authentication runs before the second factor by nature.
NAMESPACE_MARKERS = {
    "otp_webauthn": BEFORE_SECOND_FACTOR,
}


def account_standing_problem(user: Any) -> str | None:
    """Return why a logged-in user may no longer use the portal, or ``None``."""
    if not user.is_active:
        return gettext("Your account has been deactivated.")
    if user.role in AGENCY_ROLES:
        officer = Officer.objects.select_related("agency").filter(user=user).first()
        if officer is None:
            return gettext("Your account has no agency.")
        if officer.status == Officer.Status.EMAIL_UNVERIFIED:
            return gettext("Confirm your mailbox first: follow the link we emailed you.")
        if officer.status in (Officer.Status.SUSPENDED, Officer.Status.REJECTED):
            return gettext("Your account has been suspended or rejected. Contact the platform.")
        if officer.agency.status in ("suspended", "rejected"):
            return gettext("Your agency's access has been suspended. Contact the platform.")
    return None


def is_onboarding_officer(user: Any) -> bool:
    if user.role not in AGENCY_ROLES:
        return False
    officer = getattr(user, "officer", None)
    return officer is None or not officer.can_act


class AccountStandingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        markers = {m for m in (PUBLIC, BEFORE_SECOND_FACTOR, ONBOARDING) if view_marker(view, m)}
        match = request.resolver_match
        if match is not None and match.namespace in NAMESPACE_MARKERS:
            markers.add(NAMESPACE_MARKERS[match.namespace])
        user = request.user

        if user.is_authenticated:
            reason = account_standing_problem(user)
            if reason is not None:
                logout(request)
                return self._to_login(request, reason)

        if PUBLIC in markers:
            return None
        if not user.is_authenticated and is_api_request(request):
            return None  # the API authenticates its own callers (bearer tokens)
        if not user.is_authenticated:
            return self._to_login(request, None)
        if BEFORE_SECOND_FACTOR in markers:
            return None
        if not user.is_verified():
            if is_api_request(request):
                return problem_response(
                    "unauthenticated", 401, gettext("A verified second factor is required.")
                )
            return HttpResponseRedirect(self._with_next(reverse("login-verify"), request))
        if ONBOARDING in markers:
            return None
        if is_onboarding_officer(user):
            if is_api_request(request):
                return problem_response(
                    "officer_not_active", 403, gettext("Your account is waiting for vetting.")
                )
            return HttpResponseRedirect(reverse("officer-status"))
        return None

    def _with_next(self, url: str, request: HttpRequest) -> str:
        if request.method == "GET":
            return f"{url}?{urlencode({'next': request.get_full_path()})}"
        return url

    def _to_login(self, request: HttpRequest, reason: str | None) -> HttpResponse:
        if is_api_request(request):
            return problem_response("unauthenticated", 401, reason or gettext("Log in first."))
        if reason:
            messages.error(request, reason)
        return HttpResponseRedirect(self._with_next(reverse("login"), request))


class PreferencesMiddleware:
    """Show each page in the viewer's saved language, if any, and in their time zone.

    Anonymous visitors get the language of ``LocaleMiddleware`` (their cookie or
    Accept-Language, else English) and UTC, the one zone a page can name without asking.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils import timezone, translation

        from .preferences import activate_for

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            activate_for(user)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
