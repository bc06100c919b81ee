"""The transparency tests' quarter: the hand-computed fixture of ``fixture.py``."""

import pytest

from tests.requests_app.transparency.fixture import build_quarter


@pytest.fixture
def quarter():
    return build_quarter()
