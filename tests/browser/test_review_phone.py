"""The reviewer's pages on a phone (390 px): the queue and a request page full of long
values (URLs, addresses, hashes, a message thread) never scroll sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.lifecycle.models import Message
from requests_app.review import services
from tests.browser.conftest import log_in_with_totp
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PHONE = {"width": 390, "height": 844}
LONG_URL = "https://platform.example/channel/" + "a1b2c3d4e5" * 12
LONG_EMAIL = "someone.with.a.very.long.mailbox.name.for.testing@" + "sub." * 8 + "example.org"

# Every element wider than the viewport, for a useful failure message.
WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 8)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _rich_request(reviewer):
    request = make_legal_request(
        kind="emergency",
        targets=[("url", LONG_URL), ("email", LONG_EMAIL), ("username", "x" * 90)],
        case_reference="CASE/" + "0123456789" * 6,
        non_disclosure_until=timezone.localdate() + timedelta(days=90),
    )
    services.request_claim(request=request, reviewer=reviewer)
    Message.objects.create(
        request=request,
        side=Message.Side.AUTHORITY,
        author=request.officer.user,
        body="See " + LONG_URL + " and write to " + LONG_EMAIL,
    )
    return request


def test_the_queue_and_a_long_request_page_fit_a_phone(page) -> None:
    reviewer = make_reviewer()
    request = _rich_request(reviewer)
    page.set_viewport_size(PHONE)
    log_in_with_totp(page, reviewer)

    page.goto("/review/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.evaluate(
        WIDE
    )
    due = page.locator("table.queue tbody tr").first.locator("td[data-label='Due']")
    assert due.locator("time").get_attribute("datetime").endswith("Z")
    assert due.locator(".relative").inner_text().startswith("(in ")

    page.goto(f"/review/{request.reference}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.evaluate(
        WIDE
    )
    page.watch.assert_clean()
