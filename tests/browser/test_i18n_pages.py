"""The portal's languages in Debian's chromium: Hindi drawn in Devanagari, axe in two languages.

- A Hindi page: its heading is Hindi, and chromium draws its Devanagari with a font that
  has those letters (asked over DevTools which fonts drew the text; fontconfig says which
  fonts cover U+0915 DEVANAGARI LETTER KA). Without such a font (`.ci/run` installs
  fonts-noto-core, which has Noto Sans Devanagari) every letter would be an empty box.
- axe-core (npm, devDependencies; evaluated over DevTools, so the page's CSP that forbids
  inline script is untouched) finds no violation on the main pages, in English and in
  Brazilian Portuguese: home, login, the officer's request form and list, the review queue,
  a request's review page, the transparency report.
"""

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.browser.conftest import ARTIFACTS, log_in_with_totp
from tests.browser.test_transparency import axe_violations
from tests.conftest import ROOT, service_missing
from tests.factories import make_agency, make_officer
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


@pytest.fixture(autouse=True)
def _policy_and_limits() -> Iterator[None]:
    policy_defaults_load(PolicyRule)  # a flushed transactional database has lost them
    cache.clear()  # the login rate limits count per address, and every browser is 127.0.0.1
    yield
    cache.clear()


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        service_missing(f"needs axe-core at {AXE} (npm ci: it is a devDependency)")
    return AXE.read_text()


def devanagari_fonts() -> set[str]:
    """The font families fontconfig knows that have Devanagari letters."""
    try:
        listed = subprocess.run(
            ["fc-list", ":charset=0915", "family"],  # noqa: S607  (fontconfig's own tool)
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except FileNotFoundError:
        service_missing("needs fc-list (fontconfig) to tell which fonts cover Devanagari")
    return {family.strip() for line in listed.splitlines() for family in line.split(",")}


def fonts_drawing(page: Any, selector: str) -> dict[str, int]:
    """The fonts chromium drew an element's text with, and how many glyphs each (DevTools)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, f"no {selector} on {page.url}"
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {font["familyName"]: font["glyphCount"] for font in fonts}


def test_a_hindi_page_is_written_and_drawn_in_devanagari(page, live_server) -> None:
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "hi", "url": live_server.url}]
    )
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "hi"
    covering = devanagari_fonts()
    # The switcher names Hindi in Hindi: drawn with a font that has the letters.
    drawn = fonts_drawing(page, "#language-choice")
    assert set(drawn) & covering, (
        f"the switcher's हिन्दी is drawn with {drawn}, none of which has Devanagari "
        f"(fonts with Devanagari here: {sorted(covering) or 'none'})"
    )
    heading = page.locator("main h1").first
    text = heading.inner_text()
    assert DEVANAGARI.search(text), f"the Hindi home page's heading is not Hindi: {text!r}"
    drawn = fonts_drawing(page, "main h1")
    assert set(drawn) & covering, f"the heading {text!r} is drawn with {drawn}, no Devanagari"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hindi-home.png"), full_page=True)


@pytest.fixture
def people(chromium, live_server) -> dict[str, Any]:
    """An officer (Brazil) with a request in review, and a reviewer; each logged in once."""
    agency = make_agency(country="BR", name="Polícia Federal")
    officer = make_officer(agency=agency, full_name="Ana Souza")
    reviewer = make_reviewer(full_name="Rosa Reviewer")
    legal_request = make_legal_request(officer=officer, kind="subscriber_data")
    pages = {}
    for role, user in (("officer", officer.user), ("reviewer", reviewer)):
        context = chromium.new_context(base_url=live_server.url)
        pages[role] = context.new_page()
        log_in_with_totp(pages[role], user)
    anonymous = chromium.new_context(base_url=live_server.url)
    pages["anonymous"] = anonymous.new_page()
    yield {"pages": pages, "reference": legal_request.reference, "users": [officer.user, reviewer]}
    for open_page in pages.values():
        open_page.context.close()


MAIN_PAGES = [
    ("anonymous", "/"),
    ("anonymous", "/login/"),
    ("anonymous", "/transparency/"),
    ("officer", "/requests/new/subscriber_data/"),
    ("officer", "/requests/mine/"),
    ("reviewer", "/review/"),
    ("reviewer", "/review/{reference}/"),
]


@pytest.mark.parametrize("language", ["en", "pt-br"])
def test_the_main_pages_pass_axe(people, axe_source, live_server, language) -> None:
    User.objects.filter(pk__in=[user.pk for user in people["users"]]).update(language=language)
    found = {}
    for role, path in MAIN_PAGES:
        page = people["pages"][role]
        page.context.add_cookies(
            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
        )
        url = path.format(reference=people["reference"])
        response = page.goto(url)
        assert response.status < 400, f"{url} as {role}: {response.status}"
        assert page.locator("html").get_attribute("lang").lower() == language
        violations = axe_violations(page, axe_source)
        if violations:
            found[f"{url} as {role}"] = [
                f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'][:3])}"
                for v in violations
            ]
    assert not found, f"axe in {language}:\n" + "\n".join(
        f"{where}:\n  " + "\n  ".join(lines) for where, lines in found.items()
    )
