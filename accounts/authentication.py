"""Who is calling the API: a bearer token, or a browser session with a second factor.

Both classes answer in PROTOCOL §5's terms: an unknown, expired or revoked token is
``401 unauthenticated`` (with ``WWW-Authenticate: Bearer realm="portal"``); a live token or
session of an officer who is not active, or of an agency that is not verified, is
``403 officer_not_active`` or ``403 agency_not_verified``. Standing is checked on every
request, so a suspension takes effect at once.

``ApiTokenAuthentication`` must come first in ``DEFAULT_AUTHENTICATION_CLASSES``: DRF
takes the ``WWW-Authenticate`` challenge from the first class, and without one it turns
every 401 into a 403.
"""

import logging
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext, gettext_lazy
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from portal.http import client_ip

from .models import AGENCY_ROLES, ApiToken, Officer, Role, User
from .services.tokens import (
    DISPLAY_PREFIX_LENGTH,
    TokenInvalid,
    TokenOwnerNotActive,
    api_token_authenticate,
    officer_standing_problem,
)

if TYPE_CHECKING:
    from portal.problems import Problem

logger = logging.getLogger(__name__)

BEARER_CHALLENGE = 'Bearer realm="portal"'


def _problem(code: str, status: int, detail: str) -> "Problem":
    # Imported here: portal.problems imports rest_framework.views, which reads this
    # module through DEFAULT_AUTHENTICATION_CLASSES while it is being imported.
    from portal.problems import Problem

    return Problem(code, status, detail)


def _refusal(problem: TokenOwnerNotActive) -> "Problem":
    return _problem(problem.code, 403, problem.message)


class ApiTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer ptk_...``: an officer's API token."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None  # another scheme, or none: not ours to judge
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                gettext("The Authorization header must be: Bearer <token>.")
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                gettext("The token is unknown, expired or revoked.")
            ) from None
        try:
            token = api_token_authenticate(secret=secret, ip=client_ip(request._request))
        except TokenInvalid:
            raise exceptions.AuthenticationFailed(
                gettext("The token is unknown, expired or revoked.")
            ) from None
        except TokenOwnerNotActive as problem:
            logger.warning(
                "API token %s… refused: %s", secret[:DISPLAY_PREFIX_LENGTH], problem.code
            )
            raise _refusal(problem) from None
        return token.officer.user, token

    def authenticate_header(self, request: Request) -> str:
        return BEARER_CHALLENGE


class VerifiedSessionAuthentication(SessionAuthentication):
    """The browser's session, only once a second factor was verified; CSRF enforced."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        user: Any = getattr(request._request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        is_verified = getattr(user, "is_verified", None)
        if not callable(is_verified) or not is_verified():
            return None
        self.enforce_csrf(request)
        if user.role in AGENCY_ROLES:
            officer = Officer.objects.select_related("user", "agency").filter(user=user).first()
            if officer is None:
                raise _problem("officer_not_active", 403, gettext("The account has no agency."))
            problem = officer_standing_problem(officer)
            if problem is not None:
                raise _refusal(problem)
        return user, None


def request_officer(request: Request) -> Officer | None:
    """Return the officer behind an authenticated API request, or ``None``."""
    if isinstance(request.auth, ApiToken):
        return request.auth.officer
    user = request.user
    if user is None or not user.is_authenticated or getattr(user, "role", None) != Role.OFFICER:
        return None
    return Officer.objects.select_related("user", "agency").filter(user=user).first()


def api_officer(request: Request) -> Officer:
    """The officer behind an API request: the one look-up every officer endpoint makes.

    Endpoints are guarded by ``IsActiveOfficer``, so ``None`` is an anomaly, answered the
    same way everywhere: 403 ``forbidden``.
    """
    officer = request_officer(request)
    if officer is None:
        raise _problem(
            "forbidden", 403, gettext("Only officers of verified agencies use this endpoint.")
        )
    return officer


class IsActiveOfficer(BasePermission):
    """Only an active officer of a verified agency (other roles: 403 ``forbidden``)."""

    message = gettext_lazy("Only officers of verified agencies use this endpoint.")

    def has_permission(self, request: Request, view: Any) -> bool:
        officer = request_officer(request)
        if officer is None:
            return False
        problem = officer_standing_problem(officer)
        if problem is not None:
            raise _refusal(problem)
        return True
