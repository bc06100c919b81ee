"""A recent second factor, asked for again before anyone changes a user's factors.

A verified session is not enough to add or remove a passkey, set up a new authenticator
app or make new backup codes: a session cookie stolen hours ago would be. The session
remembers when its second factor last passed, and a factor change needs that to be
within ``FRESH_SECONDS``; otherwise the user confirms it is them again first.
"""

import time

from django.http import HttpRequest

FRESH_SECONDS = 10 * 60
SESSION_KEY = "portal_second_factor_at"


def second_factor_fresh_mark(request: HttpRequest) -> None:
    """Record that the session's second factor passed just now."""
    request.session[SESSION_KEY] = int(time.time())


def second_factor_is_fresh(request: HttpRequest) -> bool:
    """Whether the session's second factor passed within the last ``FRESH_SECONDS``."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified():
        return False
    passed_at = request.session.get(SESSION_KEY)
    if not isinstance(passed_at, int):
        return False
    age = int(time.time()) - passed_at
    return 0 <= age <= FRESH_SECONDS
