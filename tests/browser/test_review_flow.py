"""Two reviewers decide a request in Debian's chromium: four eyes, in part, then delivery.

Reviewer A claims the request, completes the checklist, proposes an approval of one of
the two asked categories and sees exactly the records it would disclose. Reviewer B, in
a browser context of their own, looks at the same records, confirms, and hands the
approval to delivery. Sealing itself is delivery's (its own tests); here the hand-over
is checked at the boundary: a pending disclosure and its sealing task queued.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from requests_app.delivery import tasks
from requests_app.delivery.models import Disclosure
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.review.models import AssessmentItem, Decision
from tests.browser.conftest import PageWatch, log_in_with_totp
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def second_page(chromium, live_server) -> Iterator[object]:
    """Another browser context (its own cookies): the second reviewer's."""
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    page.watch = PageWatch(page, live_server.url)
    yield page
    context.close()


@pytest.fixture
def sealing_queue(monkeypatch) -> list[int]:
    """The disclosures handed to the sealing task (recorded instead of sealed here)."""
    queued: list[int] = []
    monkeypatch.setattr(tasks.disclosure_seal, "delay", queued.append)
    return queued


def test_two_reviewers_approve_in_part_and_hand_the_disclosure_to_delivery(
    page, second_page, sealing_queue
) -> None:
    account = PlatformAccount.objects.create(
        user_id="800001",
        username="suspect_one",
        phone_number="+4915100000801",
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    PlatformIpEvent.objects.create(
        account=account, kind="login", ip="203.0.113.80", at=datetime(2026, 2, 3, 10, tzinfo=UTC)
    )
    request = make_legal_request(
        targets=[("username", "suspect_one")], data_categories=["ip_addresses", "phone_number"]
    )
    first = make_reviewer(full_name="Ada First")
    second = make_reviewer(full_name="Bo Second")

    # Reviewer A: claim, checklist, propose in part, preview.
    log_in_with_totp(page, first)
    page.goto(f"/review/{request.reference}/")
    page.get_by_role("button", name="Claim this request").click()
    # The checklist and the proposal are one form, sent with one click.
    page.get_by_role("heading", name="Checklist and proposal").wait_for()
    for item in AssessmentItem:
        page.locator(f"#item-{item.value}").get_by_label("Satisfied", exact=True).check()
    page.get_by_label("Note: scope proportionate").fill("Two categories, one month each.")
    page.get_by_label("Phone number").uncheck()
    page.get_by_label("Message for the authority").fill("The phone number is not proportionate.")
    page.get_by_role("button", name="Save and propose the approval").click()

    page.get_by_role("heading", name="What this approval would disclose").wait_for()
    records = page.locator("section.records")
    assert records.get_by_text("203.0.113.80").is_visible()
    assert "+4915100000801" not in records.inner_text()
    assert page.get_by_role("heading", name="Waiting for a second reviewer").is_visible()
    assert page.get_by_role("button", name="Confirm the approval").count() == 0
    decision = Decision.objects.get(request=request)
    assert decision.outcome == Decision.Outcome.APPROVE_PARTIAL
    assert decision.approved_categories == ["ip_addresses"]

    # Reviewer B, in another browser context: the same records, confirm, hand over.
    log_in_with_totp(second_page, second)
    second_page.goto(f"/review/{request.reference}/")
    second_page.get_by_role("link", name="Review the records and decide").click()
    second_page.get_by_role("heading", name="What this approval would disclose").wait_for()
    assert second_page.locator("section.records").get_by_text("203.0.113.80").is_visible()
    assert "+4915100000801" not in second_page.locator("section.records").inner_text()
    second_page.get_by_role("button", name="Confirm the approval").click()
    second_page.get_by_role("heading", name="Hand to delivery").wait_for()
    assert LegalRequest.objects.get(pk=request.pk).status == LegalRequest.Status.APPROVED
    second_page.get_by_role("button", name="Hand to delivery").click()
    second_page.get_by_text("Handed to delivery").first.wait_for()

    disclosure = Disclosure.objects.get(request=request)
    assert disclosure.state == Disclosure.State.PENDING
    assert disclosure.decision_id == decision.pk
    assert disclosure.created_by_id == second.pk
    assert sealing_queue == [disclosure.pk]
    page.watch.assert_clean()
    second_page.watch.assert_clean()
