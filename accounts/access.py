"""Who may open which page: decorators that views wear, read by the standing middleware.

Every view is closed by default: it needs a logged-in user with a verified second factor
and, for an officer, an active account of a verified agency. A view opens up only by
saying so here, so a forgotten decorator fails closed.
"""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from portal.access import (  # noqa: F401  (re-exported: views import them from here)
    BEFORE_SECOND_FACTOR,
    ONBOARDING,
    PUBLIC,
    before_second_factor,
    onboarding,
    public,
)

if TYPE_CHECKING:
    from .models import Officer, User


class AuthedRequest(HttpRequest):
    """A request that passed the standing middleware: its user is a real, verified user."""

    user: "User"


# The roles a view is for, as role_required declared them (read by tests/security/).
ROLES = "_portal_roles"


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse (403) a user whose role is not one of ``roles``."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request.user, "role", None) not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        for marker in (PUBLIC, BEFORE_SECOND_FACTOR, ONBOARDING):
            if getattr(view, marker, False):
                setattr(wrapped, marker, True)
        setattr(wrapped, ROLES, frozenset(roles))
        return wrapped

    return decorator


def view_marker(view: Callable[..., Any], marker: str) -> bool:
    return bool(getattr(view, marker, False))


def page_officer(request: "AuthedRequest") -> "Officer":
    """The officer behind a page request: the one look-up every officer page makes.

    Pages wear ``role_required(Role.OFFICER)``, so a missing officer record (or a session
    whose second factor is not verified, which the standing middleware already stops) is
    an anomaly, and every page answers it the same way: 403.
    """
    from .selectors import officer_of

    if not request.user.is_verified():
        raise PermissionDenied
    officer = officer_of(request.user)
    if officer is None:
        raise PermissionDenied
    return officer
