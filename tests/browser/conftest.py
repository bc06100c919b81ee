"""Playwright driving Debian's chromium (never a browser downloaded by Playwright)."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, service_missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-results"

# Playwright's sync API runs an event loop in the test's thread; the live server's
# database work happens in its own thread, and the test's own ORM calls are sequential.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        service_missing(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """Collect what a page did that a careful portal must never do."""

    def __init__(self, page, origin: str) -> None:
        self.origin = origin
        self.foreign_requests: list[str] = []
        self.console_errors: list[str] = []
        self.csp_violations: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.add_init_script(
            "window.__cspViolations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        self.page = page

    def _request(self, request) -> None:
        if not request.url.startswith(self.origin) and not request.url.startswith("data:"):
            self.foreign_requests.append(request.url)

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def assert_clean(self) -> None:
        self.csp_violations.extend(self.page.evaluate("window.__cspViolations"))
        assert self.foreign_requests == []
        assert self.csp_violations == []
        assert self.console_errors == []


@pytest.fixture
def page(chromium, live_server, request) -> Iterator[object]:
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    page.watch = PageWatch(page, live_server.url)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def localhost_origin(url: str) -> str:
    """Return ``url``'s origin with the host name ``localhost``.

    WebAuthn refuses an IP address as relying party id, and browsers treat
    http://localhost as a secure context, so passkey tests must use this name.
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://localhost:{parts.port}"


@pytest.fixture
def webauthn_origin(live_server, settings) -> str:
    """Point the portal's relying party at the live server; return its origin."""
    origin = localhost_origin(live_server.url)
    settings.PORTAL_AUDIENCE = origin
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [origin]
    return origin


class VirtualAuthenticator:
    """Chromium's virtual authenticator (DevTools protocol), standing in for a device."""

    OPTIONS = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }

    def __init__(self, context, page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        answer = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": self.OPTIONS})
        self.id = answer["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]


@contextmanager
def passkey_page_in(chromium, origin: str, name: str, **context_options) -> Iterator[object]:
    """A page in a browser context of its own (``context_options``: a viewport, a locale,
    a time zone) on ``origin``, watched as ``page`` is, with a virtual passkey
    authenticator attached (``page.authenticator``); screenshot ``name`` when done."""
    context = chromium.new_context(base_url=origin, **context_options)
    page = context.new_page()
    page.watch = PageWatch(page, origin)
    page.authenticator = VirtualAuthenticator(context, page)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()


@pytest.fixture
def passkey_page(chromium, webauthn_origin, request) -> Iterator[object]:
    """A page on the localhost origin with a virtual passkey authenticator attached
    (``page.authenticator``) and the same watch as ``page``."""
    with passkey_page_in(chromium, webauthn_origin, request.node.name) as page:
        yield page


@pytest.fixture
def other_browser(chromium, webauthn_origin, request) -> Iterator[Callable[..., object]]:
    """Open a page in a browser context of its own (its own cookies) on the passkey origin:
    ``other_browser("vetting")``, or with context options such as ``locale="en-GB"``."""
    opened: list[tuple[str, object, object]] = []

    def open_page(name: str, **context_options):
        context = chromium.new_context(base_url=webauthn_origin, **context_options)
        page = context.new_page()
        page.watch = PageWatch(page, webauthn_origin)
        opened.append((name, context, page))
        return page

    yield open_page
    ARTIFACTS.mkdir(exist_ok=True)
    for name, context, page in opened:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)
        context.close()


@pytest.fixture
def policy_storage_and_limits(settings, tmp_path) -> Iterator[Path]:
    """The default policy rules, files stored under ``tmp_path`` (the answer: where), and
    the rate limits' counts cleared: for a module's ``usefixtures``."""
    from django.core.cache import cache

    from requests_app.policy.defaults import policy_defaults_load
    from requests_app.policy.models import PolicyRule

    policy_defaults_load(PolicyRule)  # a flushed transactional database has lost them
    location = tmp_path / "storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    cache.clear()  # the rate limits count per address, and every browser is 127.0.0.1
    yield location
    cache.clear()


def log_in_with_password(page, email: str) -> None:
    """The login page's first step; the page then asks for the second factor."""
    from tests.factories import PASSWORD

    page.goto("/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/login/verify/")


def log_in_with_totp(page, user) -> None:
    """Password, then the current TOTP code; returns once the portal let the user in."""
    from tests.factories import totp_code

    log_in_with_password(page, user.email)
    page.get_by_label("Six-digit code").fill(totp_code(user))
    page.get_by_label("Six-digit code").press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)
