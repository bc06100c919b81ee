"""The officer's means to submit through the API: an enrolled signing key and a token."""

import pytest

from tests.factories import make_api_token
from tests.requests_app.signing import Signer, enrol_signing_key


@pytest.fixture
def signer(officer) -> Signer:
    """The officer's Ed25519 signing key, enrolled and approved."""
    return enrol_signing_key(officer)


@pytest.fixture
def token(officer) -> str:
    """A bearer secret of an API token of the officer."""
    return make_api_token(officer=officer)[1]
