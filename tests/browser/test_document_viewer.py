"""The reviewer's request page in Debian's chromium: the legal document opened inline by
PDF.js beside the checklist, its text on the page; nothing leaves the origin; one column at
390 px without sideways scrolling."""

import pytest
import weasyprint

from portal.models import AuditEvent
from requests_app.review import services
from tests.browser.conftest import log_in_with_totp
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.factories import make_attachment, make_legal_request, make_reviewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SENTENCE = "The court orders the preservation of the account suspect_one until June."


@pytest.fixture(autouse=True)
def storage(settings, tmp_path) -> None:
    tmp_storage(settings, tmp_path / "storage")


def court_order_pdf() -> bytes:
    """A PDF made here, with a known sentence in an embedded font (WeasyPrint)."""
    html = f"<html><body><h1>Order</h1><p>{SENTENCE}</p></body></html>"
    return weasyprint.HTML(string=html).write_pdf()


@pytest.fixture
def reviewer_page(page):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.all_requests = requests
    return page


def test_the_order_is_read_beside_the_checklist_and_nothing_leaves_the_origin(
    reviewer_page, live_server
) -> None:
    page = reviewer_page
    reviewer = make_reviewer(full_name="Ada First")
    request = make_legal_request(targets=[("username", "suspect_one")])
    services.request_claim(request=request, reviewer=reviewer)
    attachment = make_attachment(request, content=court_order_pdf(), filename="court-order.pdf")
    page.set_viewport_size({"width": 1600, "height": 1000})

    log_in_with_totp(page, reviewer)
    page.goto(f"/review/{request.reference}/")
    layer = page.locator(".document-viewer .textLayer").first
    layer.wait_for()
    page.wait_for_function(
        "s => [...document.querySelectorAll('.textLayer')].some("
        "l => l.textContent.replace(/\\s+/g, ' ').includes(s))",
        arg=SENTENCE,
    )

    # The text is on the page, in the text layer, and can be selected.
    text = " ".join(layer.text_content().split())
    assert SENTENCE in text
    selected = page.evaluate(
        """() => {
          const layer = document.querySelector('.textLayer');
          const range = document.createRange();
          range.selectNodeContents(layer);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          return selection.toString();
        }"""
    )
    assert "preservation" in selected
    assert page.locator(".pdf-page canvas").count() >= 1
    # Beside the checklist: two columns, the document on the left.
    documents = page.locator(".documents-column").bounding_box()
    decision = page.locator(".decision-column").bounding_box()
    assert documents["x"] + documents["width"] <= decision["x"]
    assert page.get_by_role("heading", name="Checklist and proposal").is_visible()
    # The reading is recorded, once, with the reviewer's name, as an opening in the viewer.
    reads = AuditEvent.objects.filter(action="document.viewed", actor=reviewer)
    assert [e.data["attachment_id"] for e in reads] == [attachment.pk]
    assert not AuditEvent.objects.filter(action="attachment.downloaded").exists()
    # Every request the page made stayed on the portal's origin, the worker's included.
    assert page.all_requests
    assert all(url.startswith(live_server.url + "/") for url in page.all_requests), [
        url for url in page.all_requests if not url.startswith(live_server.url)
    ]
    assert any(url.endswith("/static/dist/pdf.worker.js") for url in page.all_requests)
    page.watch.assert_clean()


def test_the_request_page_is_one_column_at_390_px_without_sideways_scrolling(
    reviewer_page,
) -> None:
    page = reviewer_page
    reviewer = make_reviewer()
    request = make_legal_request()
    services.request_claim(request=request, reviewer=reviewer)
    make_attachment(request, content=court_order_pdf(), filename="court-order.pdf")
    page.set_viewport_size({"width": 390, "height": 844})

    log_in_with_totp(page, reviewer)
    page.goto(f"/review/{request.reference}/")
    page.locator(".document-viewer .textLayer").first.wait_for()

    documents = page.locator(".documents-column").bounding_box()
    decision = page.locator(".decision-column").bounding_box()
    assert decision["y"] >= documents["y"] + documents["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.watch.assert_clean()
