"""Playwright driving Debian's chromium (never a browser downloaded by Playwright)."""

import os
from collections.abc import Iterator
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


@pytest.fixture
def passkey_page(chromium, webauthn_origin, request) -> Iterator[object]:
    """A page on the localhost origin with a virtual passkey authenticator attached
    (``page.authenticator``) and the same watch as ``page``."""
    context = chromium.new_context(base_url=webauthn_origin)
    page = context.new_page()
    page.watch = PageWatch(page, webauthn_origin)
    page.authenticator = VirtualAuthenticator(context, page)
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


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
