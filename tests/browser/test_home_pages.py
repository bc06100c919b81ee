"""Each role's home page in Debian's chromium: the work list, a click on an item opens it,
and at 390 px nothing scrolls sideways."""

from datetime import timedelta

import pytest

from accounts.models import Agency, Officer
from tests.browser.conftest import log_in_with_totp
from tests.factories import make_agency, make_officer, make_signing_key, make_vetting_admin
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def no_sideways_scrolling(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_reviewers_home_page_lists_an_emergency_and_opens_it(page) -> None:
    reviewer = make_reviewer(full_name="Rosa Reviewer")
    emergency = make_legal_request(kind="emergency", due_in=timedelta(hours=7))
    make_legal_request(due_in=timedelta(hours=-2))

    log_in_with_totp(page, reviewer)
    page.goto("/")

    emergencies = page.locator("section#emergencies")
    assert emergencies.locator("[data-count=emergencies]").inner_text() == "1"
    assert page.locator("section#overdue [data-count=overdue]").inner_text() == "1"
    no_sideways_scrolling(page)
    emergencies.get_by_role("link", name=emergency.reference).click()
    page.wait_for_url(f"**/review/{emergency.reference}/")
    page.get_by_role("heading", name=emergency.reference).wait_for()
    page.watch.assert_clean()


def test_the_officers_home_page_lists_the_question_waiting_for_them(page) -> None:
    officer = make_officer()
    waiting = make_legal_request(
        officer=officer, status="awaiting_clarification", paused_since=None
    )
    make_signing_key(officer=officer)

    log_in_with_totp(page, officer.user)
    page.goto("/")

    section = page.locator("section#waiting")
    assert section.locator("[data-count=waiting]").inner_text() == "1"
    assert page.locator("section#keys [data-count=keys]").inner_text() == "1"
    no_sideways_scrolling(page)
    section.get_by_role("link", name=waiting.reference).click()
    page.wait_for_url(f"**/requests/mine/{waiting.reference}/#thread")
    page.watch.assert_clean()


def test_the_vetting_administrators_home_page_lists_an_agency_to_call(page) -> None:
    admin = make_vetting_admin()
    agency = make_agency(name="Polizei Kiel", status=Agency.Status.PENDING)
    make_officer(agency=make_agency(), status=Officer.Status.PENDING)

    log_in_with_totp(page, admin)
    page.goto("/")

    assert page.locator("section#agencies [data-count=agencies]").inner_text() == "1"
    assert page.locator("section#officers [data-count=officers]").inner_text() == "1"
    calls = page.locator("section#calls")
    assert calls.locator("[data-count=calls]").inner_text() == "2"
    no_sideways_scrolling(page)
    calls.get_by_role("link", name="Polizei Kiel").click()
    page.wait_for_url(f"**/vetting/agencies/{agency.pk}/")
    page.watch.assert_clean()
