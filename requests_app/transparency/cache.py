"""Caching of the report's figures, shared by every worker through Django's cache.

Two lifetimes. What the public sees comes from published snapshots, which change only
when a period is published or corrected: those entries carry a *generation* number that
each publication bumps (after commit), so no stale page outlives a publication. Live
figures (staff only) change with every request and decision: they are kept for
``LIVE_SECONDS`` and the dashboard says when they were counted and can count again.
"""

import time
from collections.abc import Callable

from django.core.cache import cache

GENERATION_KEY = "transparency:generation"
LIVE_SECONDS = 300
PUBLIC_SECONDS = 24 * 3600


def generation() -> int:
    """The current generation; a lost one restarts from the clock, above every earlier one."""
    found = cache.get(GENERATION_KEY)
    if found is None:
        cache.add(GENERATION_KEY, int(time.time()), timeout=None)
        found = cache.get(GENERATION_KEY, int(time.time()))
    return int(found)


def generation_bump() -> None:
    """Make every cached public entry stale (called after a publication commits)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not in the cache (evicted, or never read): start from the clock
        cache.set(GENERATION_KEY, int(time.time()) + 1, timeout=None)


def public_cached[T](name: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept until the next publication (or a day)."""
    key = f"transparency:public:{generation()}:{name}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=PUBLIC_SECONDS)
    return found


def live_key(period_key: str) -> str:
    return f"transparency:live:{period_key}"


def live_cached[T](period_key: str, compute: Callable[[], T], *, fresh: bool = False) -> T:
    """``compute()``, kept for ``LIVE_SECONDS``; ``fresh`` counts again now."""
    key = live_key(period_key)
    found = None if fresh else cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=LIVE_SECONDS)
    return found
