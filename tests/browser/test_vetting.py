"""The vetting pages in Debian's chromium, in the order an administrator uses them.

A new agency: the page says not to rely on the proposed number; the administrator
records the call to a number found independently (with its source) in the first form,
then verifies in the second. Its officer: the call about them first, then one form that
approves the officer and their first passkey. The pages fit a 390 px wide screen.
"""

import pytest

from accounts.models import Agency, CallbackCheck, KeyStatus, Officer
from portal.models import AuditEvent
from tests.browser.conftest import log_in_with_totp
from tests.factories import make_agency, make_officer, make_signing_passkey, make_vetting_admin

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 390


def top(page, locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"]


def fits_a_phone(page) -> bool:
    """Whether the page, at 390 px wide, needs no sideways scrolling."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    return width <= PHONE_WIDTH


def test_an_administrator_calls_then_verifies_a_new_agency_then_approves_its_officer(
    page,
) -> None:
    admin = make_vetting_admin(full_name="Vera Vetting")
    agency = make_agency(
        name="Polizei Neustadt", status=Agency.Status.PENDING, callback_phone="+4930999888"
    )
    officer = make_officer(agency=agency, status=Officer.Status.PENDING, full_name="Nina Neu")
    Agency.objects.filter(pk=agency.pk).update(proposed_by=officer.user)
    passkey = make_signing_passkey(officer=officer, status=KeyStatus.PENDING)
    log_in_with_totp(page, admin)

    # The agency: the proposed number is not to be relied on; the call comes first.
    page.goto(f"/vetting/agencies/{agency.pk}/")
    assert page.get_by_text("Do not rely on it").is_visible()
    record = page.get_by_role("heading", name="Step 1: record the call")
    verify = page.get_by_role("heading", name="Step 2: verify the agency")
    assert top(page, record) < top(page, verify)
    assert fits_a_phone(page)

    page.get_by_label("The number you called").fill("+49 30 4664 0")
    page.get_by_label("Where you found that number").fill(
        "Berlin police directory, https://directory.example/polizei"
    )
    page.get_by_label("Confirmed", exact=True).check()
    page.get_by_role("button", name="Record the call").click()
    page.wait_for_url(f"**/vetting/agencies/{agency.pk}/#callbacks")
    assert page.get_by_role("link", name="+49 30 46640").first.get_attribute("href") == (
        "tel:+49-30-46640"
    )
    page.get_by_role("button", name="Verify Polizei Neustadt").click()
    page.get_by_text("Polizei Neustadt is verified.").wait_for()
    agency.refresh_from_db()
    assert agency.status == Agency.Status.VERIFIED
    assert agency.callback_phone == "+493046640"

    # Its officer: the call about them on the number now on file, then one approval that
    # covers the passkey whose fingerprint was read out on that call.
    page.goto(f"/vetting/officers/{officer.pk}/")
    record = page.get_by_role("heading", name="Step 1: record the call")
    approve = page.get_by_role("heading", name="Step 2: approve")
    assert top(page, record) < top(page, approve)
    assert page.get_by_label("The number you called").count() == 0
    assert fits_a_phone(page)
    page.get_by_label("Confirmed", exact=True).check()
    page.get_by_label("Note").fill("Switchboard put me through; she read the passkey.")
    page.get_by_role("button", name="Record the call").click()
    page.wait_for_url(f"**/vetting/officers/{officer.pk}/#callbacks")
    page.get_by_label("approve the passkey too").check()
    page.get_by_role("button", name="Approve Nina Neu").click()
    page.get_by_text("Nina Neu and their passkey are approved").wait_for()

    officer.refresh_from_db()
    passkey.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    assert passkey.status == KeyStatus.ACTIVE
    call = CallbackCheck.objects.filter(officer=officer).get()
    approved = AuditEvent.objects.get(action="signing_passkey.approved")
    assert approved.data["callback_id"] == call.pk
    page.watch.assert_clean()


def test_the_key_page_shows_the_number_to_call_and_fits_a_phone(page) -> None:
    admin = make_vetting_admin()
    officer = make_officer(agency=make_agency(callback_phone="+33144325151"))
    passkey = make_signing_passkey(officer=officer, status=KeyStatus.PENDING)
    log_in_with_totp(page, admin)

    page.goto(f"/vetting/signing-passkeys/{passkey.pk}/")

    number = page.get_by_role("link", name="+33 1 44 32 51 51").first
    assert number.get_attribute("href") == "tel:+33-1-44-32-51-51"
    approve = page.get_by_role("heading", name="The call confirmed it: approve")
    failed = page.get_by_role("heading", name="The call did not confirm it: record the call")
    assert top(page, approve) < top(page, failed)
    assert fits_a_phone(page)
    page.get_by_label("I read every group of the fingerprint").check()
    page.get_by_role("button", name="Approve the passkey").click()
    page.get_by_text("The passkey is approved.").wait_for()
    page.goto(f"/vetting/agencies/{officer.agency.pk}/")
    assert page.locator("#callbacks").get_by_role("link", name="Passkey").is_visible()
    page.watch.assert_clean()
