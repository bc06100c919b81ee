"""Fixtures of the reply tests (test_signed_replies*, test_reply_rate_limits): an officer's
signing key, API token, passkey and logged-in browser, and a request whose reviewer asked
for page 2 of the order. ``officer`` is tests/conftest.py's."""

import pytest
from django.test import Client

from accounts.models import Officer
from requests_app.lifecycle.models import LegalRequest
from tests.factories import SoftPasskey, log_in, make_api_token, make_signing_passkey
from tests.requests_app.officer_helpers import PAGE_2, asked_of
from tests.requests_app.signing import Signer, enrol_signing_key, pdf_bytes


@pytest.fixture
def signer(officer: Officer) -> Signer:
    return enrol_signing_key(officer)


@pytest.fixture
def token(officer: Officer) -> str:
    return make_api_token(officer=officer)[1]


@pytest.fixture
def passkey(officer: Officer) -> SoftPasskey:
    """The officer's passkey, approved to sign."""
    key = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=key)
    return key


@pytest.fixture
def session(officer: Officer) -> Client:
    """A browser logged in as ``officer``."""
    browser = Client()
    log_in(browser, officer.user)
    return browser


@pytest.fixture
def asked(officer: Officer) -> LegalRequest:
    """A request whose reviewer asked the authority for page 2 of the order."""
    return asked_of(officer)


@pytest.fixture
def page_2() -> list[tuple[str, bytes, str]]:
    return [(PAGE_2[0], pdf_bytes("Order, page 2"), PAGE_2[1])]
