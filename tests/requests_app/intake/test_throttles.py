"""The submission limits per token, per officer and per address, checked together; the
reply limits per officer and per address, with a budget of their own."""

import contextlib
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import RequestFactory
from redis.exceptions import RedisError

from requests_app.intake.throttles import (
    ADDRESS,
    OFFICER,
    REPLY_ADDRESS,
    REPLY_OFFICER,
    TOKEN,
    ReplyRateLimits,
    SubmissionRateLimits,
    rate_parse,
)

REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@pytest.fixture(autouse=True, params=["local memory", "redis"])
def backend(request, settings):
    """Every test twice: on the development server's cache, and on Redis (production's,
    where one script checks and counts the limits)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": url}}
    cache.clear()
    yield request.param
    with contextlib.suppress(RedisError):  # a test may have pointed it at nothing
        cache.clear()


def submission(*, token: int, user: int, address: str):
    request = RequestFactory().post("/api/v1/submissions", REMOTE_ADDR=address)
    request.auth = SimpleNamespace(pk=token)
    request.user = SimpleNamespace(pk=user, is_authenticated=True)
    return request


def allowed(request) -> tuple[bool, float | None]:
    limits = SubmissionRateLimits()
    return limits.allow_request(request, None), limits.wait()


def test_rates_are_read_as_count_per_period():
    assert rate_parse("30/min") == (30, 60)
    assert rate_parse("5/s") == (5, 1)
    assert rate_parse("100/hour") == (100, 3600)


def test_each_limit_counts_only_its_own_subject(settings):
    settings.INTAKE_RATE_LIMITS = {TOKEN: "2/min", OFFICER: "100/min", ADDRESS: "100/min"}
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    refused, wait = allowed(submission(token=1, user=1, address="192.0.2.1"))
    assert not refused
    assert wait is not None
    assert 0 < wait <= 60
    # The same officer with another token is not held back by the first token's limit.
    assert allowed(submission(token=2, user=1, address="192.0.2.1"))[0]


def test_many_officers_from_one_address_meet_the_address_limit(settings):
    settings.INTAKE_RATE_LIMITS = {TOKEN: "100/min", OFFICER: "100/min", ADDRESS: "3/min"}
    for n in range(3):
        assert allowed(submission(token=n, user=n, address="198.51.100.7"))[0]
    assert not allowed(submission(token=9, user=9, address="198.51.100.7"))[0]
    assert allowed(submission(token=9, user=9, address="198.51.100.8"))[0]


def test_a_refused_submission_does_not_use_up_the_other_limits(settings):
    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "2/min", ADDRESS: "100/min"}
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    for _ in range(5):  # refused by the token's limit: the officer's budget is untouched
        assert not allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    assert allowed(submission(token=2, user=1, address="192.0.2.1"))[0]
    assert not allowed(submission(token=3, user=1, address="192.0.2.1"))[0]  # officer: 2/min


def test_replies_and_submissions_have_separate_budgets(settings):
    settings.INTAKE_RATE_LIMITS = {
        TOKEN: "100/min",
        OFFICER: "1/min",
        ADDRESS: "100/min",
        REPLY_OFFICER: "2/min",
        REPLY_ADDRESS: "100/min",
    }
    request = submission(token=1, user=1, address="192.0.2.1")
    assert allowed(request)[0]
    assert not allowed(request)[0]  # the officer's one submission is spent
    replies = ReplyRateLimits()
    assert replies.allow_request(request, None)  # replies still have their two
    assert replies.allow_request(request, None)
    assert not replies.allow_request(request, None)
    assert 0 < (replies.wait() or 0) <= 60
    # Another officer from the same address is held back by neither.
    assert ReplyRateLimits().allow_request(submission(token=2, user=2, address="192.0.2.1"), None)


def test_reading_is_never_limited(settings):
    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "1/min", ADDRESS: "1/min"}
    request = RequestFactory().get("/api/v1/submissions")
    for _ in range(5):
        assert SubmissionRateLimits().allow_request(request, None)


def test_while_the_cache_is_down_signed_submissions_still_pass_and_it_is_logged(
    settings, monkeypatch, caplog, backend
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "1/min", ADDRESS: "1/min"}

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    if backend == "redis":  # nothing listens on port 1
        settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": "redis://127.0.0.1:1/0"}}
    else:
        monkeypatch.setattr(cache, "get_many", down)
    for _ in range(3):
        assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    assert "rate limits not enforced" in caplog.text


def test_on_redis_the_three_limits_cost_one_round_trip(settings, backend, monkeypatch):
    from redis.connection import AbstractConnection

    if backend != "redis":
        pytest.skip("the local memory cache has no round trips")
    settings.INTAKE_RATE_LIMITS = {TOKEN: "2/min", OFFICER: "100/min", ADDRESS: "100/min"}
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]  # the script loaded
    sent = []
    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    assert len(sent) == 1
    assert not allowed(submission(token=1, user=1, address="192.0.2.1"))[0]  # refused
    assert len(sent) == 2


def test_on_redis_a_script_the_server_forgot_is_sent_again(settings, backend):
    import redis

    if backend != "redis":
        pytest.skip("only Redis runs the script")
    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "100/min", ADDRESS: "100/min"}
    assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).script_flush()  # a restart
    refused, wait = allowed(submission(token=1, user=1, address="192.0.2.1"))
    assert not refused
    assert 59 < wait <= 60
