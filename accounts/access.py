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

if TYPE_CHECKING:
    from .models import User


class AuthedRequest(HttpRequest):
    """A request that passed the standing middleware: its user is a real, verified user."""

    user: "User"


PUBLIC = "_portal_public"
BEFORE_SECOND_FACTOR = "_portal_before_second_factor"
ONBOARDING = "_portal_onboarding"
# The roles a view is for, as role_required declared them (read by tests/security/).
ROLES = "_portal_roles"


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Open to anyone, logged in or not (home, login, the transparency report)."""
    setattr(view, PUBLIC, True)
    return view


def before_second_factor(view: Callable[..., Any]) -> Callable[..., Any]:
    """Open to a user who passed the password step but not yet the second factor."""
    setattr(view, BEFORE_SECOND_FACTOR, True)
    return view


def onboarding(view: Callable[..., Any]) -> Callable[..., Any]:
    """Open to an officer who is still waiting for vetting (status, factors, logout)."""
    setattr(view, ONBOARDING, True)
    return view


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
