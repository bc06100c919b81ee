import pytest

from requests_app.models import PolicyRule
from requests_app.policy_defaults import policy_defaults_load


@pytest.fixture(autouse=True)
def default_policy(db: None) -> None:
    """The default policy rows (a flushed transactional test database has lost them)."""
    policy_defaults_load(PolicyRule)
