"""The public transparency report in Debian's chromium: switch country and period, then axe.

The page is driven with its plain GET form, as a visitor without script would use it;
PageWatch fails the test on a console error, a CSP violation or a request to another
origin. axe-core (vendored through npm, `make assets`) then checks the world view and a
country view: no serious or critical violation may remain. A screenshot of each view is
saved under test-results/.
"""

from typing import Any

import pytest

from requests_app.transparency.periods import Period
from requests_app.transparency.services import snapshot_publish
from tests.browser.conftest import ARTIFACTS
from tests.conftest import ROOT, service_missing
from tests.factories import make_vetting_admin
from tests.requests_app.factories import make_legal_request
from tests.requests_app.transparency.fixture import AS_OF, PERIOD, at, build_quarter

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
BLOCKING = {"serious", "critical"}


@pytest.fixture
def axe_source() -> str:
    if not AXE.exists():
        service_missing(f"needs axe-core at {AXE} (run `make assets`, which runs npm ci)")
    return AXE.read_text()


@pytest.fixture
def two_quarters() -> None:
    """2026-Q2 of the hand-computed fixture, and a 2026-Q1 with three French requests."""
    quarter = build_quarter()
    for day in (5, 6, 7):
        make_legal_request(
            officer=quarter.requests["f1"].officer,
            received_at=at(2, day),
            due_at=at(2, day + 10),
            audited=False,
        )
    admin = make_vetting_admin()
    snapshot_publish(actor=admin, period=Period.quarter(2026, 1), now=AS_OF)
    snapshot_publish(actor=admin, period=PERIOD, now=AS_OF)


def axe_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """Run axe-core in the page (evaluated over DevTools, so the page's CSP is untouched)."""
    page.evaluate(source)
    return page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")),
            }));
        }""",
        AXE_TAGS,
    )


def received_figure(page: Any) -> str:
    return page.locator(".key-figure", has_text="Requests received").locator(".figure").inner_text()


def test_a_visitor_switches_country_and_period_and_the_page_passes_axe(
    page, two_quarters, axe_source
) -> None:
    page.goto("/transparency/")
    assert page.locator("#summary-heading").inner_text() == "World: April to June 2026"
    assert page.locator("table caption", has_text="Requests received by country").count() == 1
    world = axe_violations(page, axe_source)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "transparency-world.png"), full_page=True)

    page.select_option("#id_country", "DE")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/transparency/?period=2026-Q2&country=DE")
    assert page.locator("#summary-heading").inner_text() == "Germany: April to June 2026"
    assert received_figure(page) == "11"

    page.select_option("#id_period", "2026-Q1")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/transparency/?period=2026-Q1&country=DE")
    assert page.locator("#summary-heading").inner_text() == "Germany: January to March 2026"
    assert "No figures are shown for Germany" in page.locator(".not-named").inner_text()

    page.select_option("#id_country", "FR")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/transparency/?period=2026-Q1&country=FR")
    assert page.locator("#summary-heading").inner_text() == "France: January to March 2026"
    assert received_figure(page) == "3"
    country = axe_violations(page, axe_source)
    page.screenshot(path=str(ARTIFACTS / "transparency-country.png"), full_page=True)

    page.watch.assert_clean()
    blocking = [v for v in world + country if v["impact"] in BLOCKING]
    assert blocking == []
