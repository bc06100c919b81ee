"""The submission limits per token, per officer and per address, checked together."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from requests_app.intake.throttles import ADDRESS, OFFICER, TOKEN, SubmissionRateLimits, rate_parse


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
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


def test_reading_is_never_limited(settings):
    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "1/min", ADDRESS: "1/min"}
    request = RequestFactory().get("/api/v1/submissions")
    for _ in range(5):
        assert SubmissionRateLimits().allow_request(request, None)


def test_while_the_cache_is_down_signed_submissions_still_pass_and_it_is_logged(
    settings, monkeypatch, caplog
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    settings.INTAKE_RATE_LIMITS = {TOKEN: "1/min", OFFICER: "1/min", ADDRESS: "1/min"}

    def down(*args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(cache, "get_many", down)
    for _ in range(3):
        assert allowed(submission(token=1, user=1, address="192.0.2.1"))[0]
    assert "rate limits not enforced" in caplog.text
