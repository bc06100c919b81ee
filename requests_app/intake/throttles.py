"""Rate limits on submissions, per token, per officer and per address (429 + Retry-After).

Counts live in Django's cache: Redis in production, so every worker shares them. Each
limit is a sliding window (the times of the submissions it allowed within its period),
as DRF's ``SimpleRateThrottle`` keeps them; the three limits are read with one
``get_many`` and written with one ``set_many``, so a submission costs two round trips to
the cache instead of six. Like DRF's, the read and the write are not one atomic step:
two submissions at the same instant may both pass the last free place in a window. A
refused submission is not counted against any limit.
"""

import logging
import time
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from portal.http import client_ip

logger = logging.getLogger(__name__)
# What the cache raises when Redis is down (a local memory cache never does).
CACHE_DOWN = (RedisError, OSError)

TOKEN = "submission_token"  # noqa: S105 (a cache scope's name, not a secret)
OFFICER = "submission_officer"
ADDRESS = "submission_address"
PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """``"30/min"`` -> (30 submissions, 60 seconds)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period]


def _ident(scope: str, request: Any) -> str | None:
    if scope == TOKEN:
        pk = getattr(getattr(request, "auth", None), "pk", None)
        return None if pk is None else str(pk)
    if scope == OFFICER:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None
    return client_ip(request) or "unknown"


class SubmissionRateLimits(BaseThrottle):
    """The submission limits in ``settings.INTAKE_RATE_LIMITS``, checked together."""

    scopes: tuple[str, ...] = (TOKEN, OFFICER, ADDRESS)

    def __init__(self, scopes: tuple[str, ...] | None = None) -> None:
        if scopes is not None:
            self.scopes = scopes
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any, *, count: bool = True) -> bool:
        """Whether the limits let this submission through; it counts unless ``count`` is
        false (the web page's check step asks before the passkey, and sends nothing yet)."""
        if request.method != "POST":
            return True
        now = time.time()
        keys = {
            scope: f"throttle_{scope}_{ident}"
            for scope in self.scopes
            if (ident := _ident(scope, request)) is not None
        }
        try:
            histories = cache.get_many(list(keys.values()))
        except CACHE_DOWN:
            # The limits hold back a vetted officer's flood; they are not what makes a
            # submission genuine (the signature is). While the cache is down, signed
            # submissions (an emergency among them) still go through, and it is logged.
            logger.warning("Submission rate limits not enforced: the cache is unavailable")
            return True
        kept: dict[str, tuple[list[float], int]] = {}
        waits: list[float] = []
        for scope, key in keys.items():
            limit, period = rate_parse(settings.INTAKE_RATE_LIMITS[scope])
            history = [moment for moment in histories.get(key, []) if moment > now - period]
            if len(history) >= limit:
                waits.append(history[-1] + period - now)  # when the oldest leaves the window
            kept[key] = (history, period)
        if waits:
            self._wait = max(waits)
            return False
        if not count:
            return True
        by_period: dict[int, dict[str, list[float]]] = defaultdict(dict)
        for key, (history, period) in kept.items():
            by_period[period][key] = [now, *history]
        try:
            for period, values in by_period.items():
                cache.set_many(values, timeout=period)
        except CACHE_DOWN:
            logger.warning("Submission rate limits not counted: the cache is unavailable")
        return True

    def wait(self) -> float | None:
        return self._wait
