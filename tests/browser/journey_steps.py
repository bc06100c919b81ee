"""What the two whole journeys share: tests/browser/test_journey.py (an officer in English,
on a desktop) and tests/browser/test_journey_pt_br.py (an officer in Brazilian Portuguese,
on a phone).

A ``Journey`` holds what differs between them (the officer, the agency and its callback
number, the platform's data about the account the request names). Shared here: what
exists outside the portal's pages (``outside_the_portal``) and the platform staff's steps,
which are in English in both journeys (the vetting administrator's callback and approvals,
the two reviewers). The officer's own steps depend on the language and the screen and
stay in each test.
"""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core import mail
from django_otp.oath import totp

from accounts.models import Agency, User
from requests_app.delivery.models import SealedResponse
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from tests.browser.conftest import log_in_with_totp as log_in
from tests.factories import make_agency, make_vetting_admin
from tests.requests_app.factories import make_reviewer

CONNECTIONS_FILE = "connections-2026-02-03.csv"
CONNECTED_AT = datetime(2026, 2, 3, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Journey:
    """What one journey's officer, agency and platform data are."""

    officer_email: str
    officer_name: str
    officer_title: str
    agency_name: str
    agency_country: str
    agency_domain: str
    callback_number: str  # as the agency's record holds it (E.164)
    callback_shown: str  # as the vetting page shows it, in international format
    callback_tel: str  # the tel: link that dials it
    user_id: str  # the platform's account the request names
    username: str
    ip_login: str
    suspect_phone: str

    @property
    def connections_csv(self) -> bytes:
        return f"at,ip,port\n2026-02-03T10:00:00Z,{self.ip_login},40112\n".encode()


@dataclass(frozen=True)
class Cast:
    """Who exists before the journey starts, besides the platform's data."""

    agency: Agency
    admin: User
    first_reviewer: User
    second_reviewer: User


def outside_the_portal(journey: Journey) -> Cast:
    """Create only what comes from outside the portal's pages: the verified agency with its
    domain and callback number, the vetting administrator, the two reviewers, and the
    platform's own data about the account the request names (a login from ``ip_login``,
    a phone number, a file of connections)."""
    agency = make_agency(
        name=journey.agency_name,
        country=journey.agency_country,
        domain=journey.agency_domain,
        callback_phone=journey.callback_number,
    )
    cast = Cast(
        agency=agency,
        admin=make_vetting_admin(full_name="Vera Vetting"),
        first_reviewer=make_reviewer(full_name="Ada First"),
        second_reviewer=make_reviewer(full_name="Bo Second"),
    )
    account = PlatformAccount.objects.create(
        user_id=journey.user_id,
        username=journey.username,
        phone_number=journey.suspect_phone,
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind=PlatformIpEvent.Kind.LOGIN,
        ip=journey.ip_login,
        port=40112,
        at=CONNECTED_AT,
    )
    platform_file_store(
        account=account,
        name=CONNECTIONS_FILE,
        media_type="text/csv",
        category="ip_addresses",
        data=journey.connections_csv,
        at=CONNECTED_AT,
    )
    return cast


def clean(page) -> None:
    """The page so far broke no CSP rule, logged no error and asked no other origin."""
    page.watch.assert_clean()


def go(page, label: str) -> None:
    """Follow a link of the main navigation (English), as a user does."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state("load")


def log_in_with_totp(page, user: User) -> None:
    """Password and TOTP code, then the home page (English) welcomes the user."""
    log_in(page, user)
    page.get_by_role("heading", name=f"Welcome, {user.full_name}").wait_for()
    clean(page)


def code_from_shown_secret(shown: str) -> str:
    """What an authenticator app shows for the key the page printed in groups of four."""
    secret = shown.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def emails_to(address: str) -> list[str]:
    return [message.subject for message in mail.outbox if message.to == [address]]


# --- The platform staff's steps (English) --------------------------------------------------


def vet_the_officer(vetting, admin: User, journey: Journey, note: str) -> None:
    """The vetting administrator calls the agency's number on file, records the call and
    approves the officer."""
    name = journey.officer_name
    log_in_with_totp(vetting, admin)
    go(vetting, "Vetting")
    vetting.locator("#officers").get_by_role("link", name=name).click()
    vetting.get_by_role("heading", name=name).wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Waiting for vetting").is_visible()
    assert vetting.get_by_text("Call the agency's number on file:").is_visible()
    dial = vetting.locator("#record-callback-heading").locator("..")
    assert dial.get_by_role("link", name=journey.callback_shown).get_attribute("href") == (
        journey.callback_tel
    )
    clean(vetting)
    vetting.get_by_label("Confirmed", exact=True).check()
    vetting.get_by_label("Note").fill(note)
    vetting.get_by_role("button", name="Record the call").click()
    vetting.get_by_text(f"The call to {journey.callback_shown} was recorded.").wait_for()
    callbacks = vetting.locator("#callbacks")
    assert callbacks.get_by_role("row").filter(has_text="Confirmed").get_by_text("Yes").is_visible()
    clean(vetting)
    vetting.get_by_role("button", name=f"Approve {name}").click()
    vetting.get_by_text(f"{name} is approved and was told by email.").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Active").is_visible()
    clean(vetting)


def read_out_and_approve(vetting, link, thing: str, joined: str, sep: str, kind: str) -> None:
    """The administrator follows ``link`` (a locator on the vetting page) to a key, reads
    its groups of four out with the officer (``thing``: "Recipient" or "Fingerprint"; they
    join with ``sep`` into ``joined``) and approves it (``kind``: "age recipient" or
    "passkey")."""
    go(vetting, "Vetting")
    link.click()
    vetting.get_by_role("heading", name=f"{thing}, to read out by phone").wait_for()
    groups = vetting.get_by_role("list", name=f"{thing} in groups of four").get_by_role("listitem")
    assert sep.join(groups.all_inner_texts()) == joined
    vetting.get_by_label("I read every group of the fingerprint with the owner").check()
    clean(vetting)
    vetting.get_by_role("button", name=f"Approve the {kind}").click()
    vetting.get_by_text(f"The {kind} is approved.").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Active").is_visible()
    clean(vetting)


def approve_the_recipient(vetting, recipient: str) -> None:
    """The administrator reads the age recipient out with the officer and approves it."""
    link = vetting.locator("#age-recipients").get_by_role("link", name=recipient[:20])
    read_out_and_approve(vetting, link, "Recipient", recipient, "", "age recipient")
    assert vetting.get_by_text("Approved by Vera Vetting, on").is_visible()
    clean(vetting)


def approve_the_passkey(vetting, read_out: str) -> None:
    """The administrator compares the passkey's fingerprint with what the officer reads out
    from their keys page (``read_out``) and approves it as a signing key."""
    link = vetting.locator("#signing-passkeys").get_by_role("link").first
    read_out_and_approve(vetting, link, "Fingerprint", read_out, " ", "passkey")


def open_from_the_queue(page, reviewer: User, reference: str) -> None:
    log_in_with_totp(page, reviewer)
    go(page, "Review queue")
    page.get_by_role("link", name=reference).click()
    page.get_by_role("heading", name=reference).wait_for()


def assert_the_records(page, journey: Journey) -> None:
    records = page.locator("section.records")
    assert records.get_by_role("cell", name=journey.ip_login, exact=True).is_visible()
    assert records.get_by_role("cell", name=journey.suspect_phone).is_visible()


def first_reviewer_proposes(first, reviewer: User, reference: str, journey: Journey, note: str):
    """The first reviewer claims the request, satisfies the checklist and proposes the
    approval (one form, saved in one step), then sees the records it would disclose."""
    open_from_the_queue(first, reviewer, reference)
    provenance = first.locator("#provenance")
    assert provenance.get_by_text("Web (confirmed with a passkey)").is_visible()
    officer = f"{journey.officer_name}, {journey.officer_title}"
    assert provenance.get_by_text(officer).is_visible()
    clean(first)
    first.get_by_role("button", name="Claim this request").click()
    first.get_by_role("heading", name="Checklist and proposal").wait_for()
    items = first.locator("fieldset.checklist-item")
    assert items.count() == 5
    for index in range(items.count()):
        items.nth(index).get_by_label("Satisfied", exact=True).check()
    first.get_by_label("Note: scope proportionate").fill(note)
    clean(first)
    first.get_by_role("button", name="Save and propose the approval").click()
    first.get_by_role("heading", name="What this approval would disclose").wait_for()
    assert_the_records(first, journey)
    assert first.locator("section.records").get_by_text(CONNECTIONS_FILE).is_visible()
    assert first.get_by_role("heading", name="Waiting for a second reviewer").is_visible()
    assert first.get_by_role("button", name="Confirm the approval").count() == 0
    clean(first)


def second_reviewer_hands_over(second, reviewer: User, reference: str, journey: Journey):
    """The second reviewer looks at the same records, confirms the approval and hands it to
    delivery, which seals the response."""
    open_from_the_queue(second, reviewer, reference)
    clean(second)
    second.get_by_role("link", name="Review the records and decide").click()
    second.get_by_role("heading", name="What this approval would disclose").wait_for()
    assert_the_records(second, journey)
    clean(second)
    second.get_by_role("button", name="Confirm the approval").click()
    second.get_by_role("heading", name="Hand to delivery").wait_for()
    assert second.get_by_text("The approval is confirmed.").is_visible()
    clean(second)
    # Sealing is a Celery task (eager in tests) that PortalTask enqueues only when the
    # hand-over's transaction commits. In a transactional test the live server's requests
    # commit for real, so the on-commit callback runs, and the sealing with it, before the
    # answer to this click: the page it leads to shows the sealed state, with no sweeper.
    second.get_by_role("button", name="Hand to delivery").click()
    second.get_by_text("Handed to delivery: the response is sealed").wait_for()
    handed = second.locator("#disclosures")
    assert handed.get_by_text("Sealed", exact=True).is_visible()
    assert SealedResponse.objects.count() == 1
    clean(second)
