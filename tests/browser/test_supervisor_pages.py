"""An agency supervisor's pages in chromium on a phone-sized screen: nothing scrolls
sideways at 390 px, no CSP violation, no foreign request; a suspension through the page."""

import pytest

from accounts.models import KeyStatus, Officer
from requests_app.lifecycle.models import RequestShare
from tests.browser.conftest import log_in_with_totp
from tests.factories import (
    make_age_recipient,
    make_agency,
    make_api_token,
    make_officer,
    make_signing_key,
    make_supervisor,
    make_vetting_admin,
)
from tests.requests_app.delivery_helpers import sealed_delivery, tmp_storage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def default_policy(transactional_db) -> None:
    """The default jurisdiction rules: a flushed transactional database has lost them."""
    from requests_app.policy.defaults import policy_defaults_load
    from requests_app.policy.models import PolicyRule

    if not PolicyRule.objects.exists():
        policy_defaults_load(PolicyRule)


PHONE = {"width": 390, "height": 844}


def assert_no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide"


def test_the_supervisor_pages_fit_a_phone_and_a_suspension_works_from_them(
    page, client, settings, tmp_path
):
    tmp_storage(settings, tmp_path)
    agency = make_agency(name="Landeskriminalamt Nordrhein-Westfalen", domain="lka.example")
    supervisor = make_supervisor(agency=agency, full_name="Sabine Supervisor")
    officer = make_officer(agency=agency, full_name="Otto Officer")
    make_officer(agency=agency, status=Officer.Status.PENDING, full_name="Nina Newcomer")
    make_signing_key(officer=officer, status=KeyStatus.ACTIVE)
    make_age_recipient(officer=officer, status=KeyStatus.ACTIVE)
    make_api_token(officer=officer)
    delivery = sealed_delivery(client, officer=officer)
    RequestShare.objects.create(request=delivery.request, officer=supervisor, granted_by=officer)

    page.set_viewport_size(PHONE)
    log_in_with_totp(page, supervisor.user)
    for path in (
        "/agency/requests/",
        f"/agency/requests/{delivery.reference}/",
        "/agency/officers/",
        "/agency/keys/",
        f"/agency/officers/{officer.pk}/suspend/",
    ):
        page.goto(path)
        assert page.locator("h1").count() == 1, path
        assert_no_sideways_scroll(page)

    page.get_by_label("Reason").fill("Laptop stolen on the train.")
    page.get_by_role("button", name="Suspend now").click()
    page.wait_for_url("**/agency/officers/")
    assert page.get_by_text("Otto Officer is suspended; the platform was told.").is_visible()
    officer.refresh_from_db()
    assert officer.status == Officer.Status.SUSPENDED
    assert_no_sideways_scroll(page)
    page.watch.assert_clean()


def test_the_certificate_statements_page_fits_a_phone(page) -> None:
    admin = make_vetting_admin()
    page.set_viewport_size(PHONE)
    log_in_with_totp(page, admin)
    page.goto("/staff/policy/certificate/")
    page.get_by_label("Country", exact=True).select_option("DE")
    page.get_by_label("The custodian's statement").fill("Ich versichere die Echtheit.")
    page.get_by_label("Reason for the change").fill("Advice of the legal team.")
    page.get_by_role("button", name="Save the statement").click()
    page.wait_for_url("**/staff/policy/certificate/")
    assert page.get_by_text("Ich versichere die Echtheit.").is_visible()
    assert_no_sideways_scroll(page)
    page.watch.assert_clean()
