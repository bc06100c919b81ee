import pytest

from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule


@pytest.fixture(autouse=True)
def default_policy(db: None) -> None:
    """The default policy rows (a flushed transactional test database has lost them)."""
    policy_defaults_load(PolicyRule)
