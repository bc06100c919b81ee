"""Fixtures of every stage's tests: the default policy, storage, reviewers, a real request."""

from pathlib import Path

import pytest

from requests_app.lifecycle.models import LegalRequest
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.factories import log_in
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.factories import make_reviewer
from tests.requests_app.officer_helpers import submitted


@pytest.fixture(autouse=True)
def default_policy(db: None) -> None:
    """The default policy rows (a flushed transactional test database has lost them)."""
    policy_defaults_load(PolicyRule)


@pytest.fixture
def storage(settings, tmp_path: Path) -> Path:
    """Django's default storage (documents, sealed responses) in this test's directory."""
    return tmp_storage(settings, tmp_path / "storage")


@pytest.fixture
def intake_settings(settings, storage: Path) -> None:
    """No rate limit in the way of many submissions; attachments stored under ``tmp_path``.

    The rate-limit counts start empty in every test (``fresh_cache`` in tests/conftest.py).
    """
    settings.INTAKE_RATE_LIMITS = dict.fromkeys(settings.INTAKE_RATE_LIMITS, "100000/min")


@pytest.fixture
def reviewer():
    """A reviewer of the legal team: Rita Reviewer."""
    return make_reviewer(full_name="Rita Reviewer", email="rita@platform.example")


@pytest.fixture
def reviewer_client(client, reviewer):
    """The test client, logged in as ``reviewer``."""
    log_in(client, reviewer)
    return client


@pytest.fixture
def legal_request(officer) -> LegalRequest:
    """A real request: signed and submitted through the API by ``officer``."""
    return submitted(officer)
