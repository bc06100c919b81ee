"""Rate limits on submissions (per token, per officer and per address) and on clarification
replies (per officer and per address, a budget of their own): 429 + Retry-After.

Counts live in Django's cache: Redis in production, so every worker shares them. Each
limit is a sliding window (the times of the submissions it allowed within its period),
as DRF's ``SimpleRateThrottle`` keeps them. On Redis the three limits are checked and
counted by one Lua script (``_SCRIPT``): one round trip per submission, and the check
and the count are one atomic step, so two submissions at the same instant cannot both
take the last free place in a window. Another cache (the development server's local
memory) reads the limits with one ``get_many`` and writes them with one ``set_many``.
A refused submission is not counted against any limit. Replies go through the same
machinery with their own scopes (``ReplyRateLimits``, PROTOCOL §5.4).
"""

import logging
import math
import secrets
import time
import weakref
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from portal.http import client_ip

logger = logging.getLogger(__name__)
# What the cache raises when Redis is down (a local memory cache never does).
CACHE_DOWN = (RedisError, OSError)

TOKEN = "submission_token"  # noqa: S105 (a cache scope's name, not a secret)
OFFICER = "submission_officer"
ADDRESS = "submission_address"
REPLY_OFFICER = "reply_officer"
REPLY_ADDRESS = "reply_address"
PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int]:
    """``"30/min"`` -> (30 submissions, 60 seconds)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period]


# KEYS: one sorted set per limit (member: a submission, score: its time).
# ARGV: now, whether to count ("1"), the new member, then each limit's count and period.
# Answers nil when every limit lets the submission through (and counts it if asked), else
# the seconds until the fullest window frees a place, as text (Lua numbers are integers
# in a Redis reply).
_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = nil
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 + 2 * i])
  local period = tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local left = tonumber(oldest[2]) + period - now
    if wait == nil or left > wait then wait = left end
  end
end
if wait ~= nil then return tostring(wait) end
if ARGV[2] == '1' then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[3])
    redis.call('EXPIRE', key, tonumber(ARGV[3 + 2 * i]))
  end
end
return nil
"""
_script: list[Any] = []  # the registered script, once
# The writing Redis client of each of the cache's clients, made once: Django's
# ``get_client`` makes a new client object on every call, whose set-up (its table of reply
# callbacks) cost more CPU than the script's round trip. It holds nothing but the cache's
# own connection pool.
_clients: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _redis_run(backend: RedisCache, keys: list[str], args: list[Any]) -> Any:
    """Run the script with the cache's own Redis client (its pool, its options).

    ``EVALSHA``: one round trip; Redis is sent the script's text only when it does not
    know it yet (after a restart).
    """
    client = _clients.get(backend._cache)
    if client is None:
        client = _clients.setdefault(backend._cache, backend._cache.get_client(write=True))
    if not _script:
        _script.append(client.register_script(_SCRIPT))
    return _script[0](keys=keys, args=args, client=client)


def _ident(scope: str, request: Any) -> str | None:
    if scope == TOKEN:
        pk = getattr(getattr(request, "auth", None), "pk", None)
        return None if pk is None else str(pk)
    if scope in (OFFICER, REPLY_OFFICER):
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None
    return client_ip(request) or "unknown"


class RateLimits(BaseThrottle):
    """The limits of ``scopes`` in ``settings.INTAKE_RATE_LIMITS``, checked together."""

    scopes: tuple[str, ...] = ()
    name = "The"  # the log says "<name> rate limits not enforced"

    def __init__(self, scopes: tuple[str, ...] | None = None) -> None:
        if scopes is not None:
            self.scopes = scopes
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any, *, count: bool = True) -> bool:
        """Whether the limits let this submission (or reply) through; it counts unless
        ``count`` is false (the web pages' check steps ask before the passkey, and send
        nothing yet)."""
        if request.method != "POST":
            return True
        now = time.time()
        idents = {
            scope: ident for scope in self.scopes if (ident := _ident(scope, request)) is not None
        }
        backend = caches[DEFAULT_CACHE_ALIAS]
        if isinstance(backend, RedisCache):
            return self._allow_redis(backend, idents, now=now, count=count)
        keys = {scope: f"throttle_{scope}_{ident}" for scope, ident in idents.items()}
        try:
            histories = cache.get_many(list(keys.values()))
        except CACHE_DOWN:
            # The limits hold back a vetted officer's flood; they are not what makes a
            # submission genuine (the signature is). While the cache is down, signed
            # submissions (an emergency among them) still go through, and it is logged.
            logger.warning("%s rate limits not enforced: the cache is unavailable", self.name)
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
            logger.warning("%s rate limits not counted: the cache is unavailable", self.name)
        return True

    def _allow_redis(
        self, backend: RedisCache, idents: dict[str, str], *, now: float, count: bool
    ) -> bool:
        """The same limits in one round trip: the script checks and counts atomically."""
        keys, limits = [], []
        for scope, ident in idents.items():
            limit, period = rate_parse(settings.INTAKE_RATE_LIMITS[scope])
            keys.append(backend.make_key(f"throttle_window_{scope}_{ident}"))
            limits += [limit, period]
        try:
            wait = _redis_run(
                backend, keys, [repr(now), "1" if count else "0", secrets.token_hex(8), *limits]
            )
        except CACHE_DOWN:
            logger.warning("%s rate limits not enforced: the cache is unavailable", self.name)
            return True
        if wait is None:
            return True
        self._wait = float(wait)
        return False

    def wait(self) -> float | None:
        return self._wait


class SubmissionRateLimits(RateLimits):
    """A submission's limits: per token, per officer, per address."""

    scopes = (TOKEN, OFFICER, ADDRESS)
    name = "Submission"


class ReplyRateLimits(RateLimits):
    """A clarification reply's limits: per officer, per address (not the submissions')."""

    scopes = (REPLY_OFFICER, REPLY_ADDRESS)
    name = "Reply"


def limits_wait(limits: RateLimits, request: Any, *, count: bool = True) -> int | None:
    """For the web pages: ``None`` when ``limits`` let ``request`` through (counted unless
    ``count`` is false), else the whole seconds to wait, at least 1 (Retry-After)."""
    if limits.allow_request(request, None, count=count):
        return None
    return max(1, math.ceil(limits.wait() or 1))
