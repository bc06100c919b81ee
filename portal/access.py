"""The marks a view wears to open up: read by the standing middleware (accounts).

Defined at the bottom layer so that the portal's own views (health, errors) can wear them;
`accounts.access` re-exports them with the role decorators.
"""

from collections.abc import Callable
from typing import Any

PUBLIC = "_portal_public"
BEFORE_SECOND_FACTOR = "_portal_before_second_factor"
ONBOARDING = "_portal_onboarding"


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
