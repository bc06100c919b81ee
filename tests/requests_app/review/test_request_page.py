"""The request page and its legal documents: what a reviewer sees, and who sees nothing.

Tested through the pages as a logged-in reviewer. The timeline is built by the real
review services, so it shows the audit events they write.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.http import Http404
from django.test import Client
from django.utils import formats, timezone
from django.utils.html import strip_tags

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.review import services
from requests_app.review.models import Decision
from requests_app.review.selectors import attachment_open_for_reviewer, request_get_for_reviewer
from tests.audit_marks import audit_mark
from tests.factories import PASSWORD, log_in, make_officer, make_user
from tests.requests_app.factories import make_attachment, make_legal_request, make_reviewer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]

S = LegalRequest.Status
CASE = "PF-2026-SECRET-0412"


def machine(moment: datetime) -> str:
    """The instant as a <time datetime> names it: UTC, with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(year: int, month: int, number: int) -> str:
    """A date as the page shows it: the active language's own format (English here)."""
    return formats.date_format(date(year, month, number), "DATE_FORMAT")


def page_url(request: LegalRequest) -> str:
    return f"/review/{request.reference}/"


def document_url(request: LegalRequest, attachment) -> str:
    return f"/review/{request.reference}/documents/{attachment.pk}/"


def viewer_url(request: LegalRequest, attachment) -> str:
    """Where the request page's viewer (PDF.js) fetches a document from."""
    return f"/review/{request.reference}/documents/{attachment.pk}/view/"


def section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}"')
    return page[start : page.index("</section>", start)]


# --- What the page shows -------------------------------------------------------------------


def test_the_page_shows_the_verified_provenance_and_the_receipt(reviewer_client):
    officer = make_officer(full_name="Anna Schmidt")
    request = make_legal_request(officer=officer, case_reference=CASE, channel="web")

    response = reviewer_client.get(page_url(request))

    assert response.status_code == 200
    provenance = section(response.content.decode(), "provenance")
    for shown in (
        "Anna Schmidt",
        officer.badge_number,
        officer.user.email,
        officer.agency.name,
        "Germany",
        "Web (confirmed with a passkey)",
        request.key_id,
        request.payload_sha256,
        request.envelope_sha256,
        request.receipt["signature"],
        f'datetime="{machine(request.signature_verified_at)}"',
    ):
        assert shown in provenance, shown


def test_the_page_shows_targets_categories_period_and_the_legal_basis(reviewer_client):
    request = make_legal_request(
        case_reference=CASE, targets=[("username", "suspect_one"), ("phone", "+4915112345")]
    )

    scope = section(reviewer_client.get(page_url(request)).content.decode(), "scope")

    for shown in (
        CASE,
        "Fraud",
        "Art. 5 Regulation (EU) 2023/1543",
        "Judge A. Example",
        "suspect_one",
        "+4915112345",
        "<caption>Targets (2)</caption>",
        "IP addresses with timestamps",
        "Phone number",
    ):
        assert shown in scope, shown
    assert f"{day(2026, 1, 1)} to {day(2026, 3, 31)}" in strip_tags(scope)


def test_an_emergency_shows_its_justification_and_the_number_to_call(reviewer_client):
    request = make_legal_request(
        kind="emergency", emergency_justification="A child is missing since this morning."
    )

    page = reviewer_client.get(page_url(request)).content.decode()

    assert "A child is missing since this morning." in page
    assert request.agency.callback_phone in page
    assert "Emergency</span></h1>" in page


def test_the_clocks_show_deadline_time_left_paused_time_and_non_disclosure(reviewer_client):
    now = timezone.now()
    request = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now + timedelta(days=2, hours=5),
        paused_since=now - timedelta(hours=3),
        non_disclosure_until=date(2027, 6, 30),
    )
    request.review.paused_seconds = 3600
    request.review.save()

    clocks = section(reviewer_client.get(page_url(request)).content.decode(), "clocks")

    # Frozen at the moment the clock stopped: 2 days 8 hours were left then.
    assert "2 days 8 hours left, frozen while the authority is asked" in clocks
    assert "(moves on while the clock is paused)" in clocks
    assert "4 hours, paused since" in clocks
    assert "awaiting clarification" in clocks
    assert f'<time datetime="2027-06-30">{day(2027, 6, 30)}</time>' in clocks
    assert "Court order of secrecy" in clocks


def test_a_preservation_request_shows_when_the_preservation_ends(reviewer_client):
    received = timezone.now() - timedelta(days=10)
    request = make_legal_request(kind="preservation", received_at=received)

    clocks = section(reviewer_client.get(page_url(request)).content.decode(), "clocks")

    # A German agency: an EU preservation order lasts 60 days.
    expires = received + timedelta(days=60)
    assert f'<time datetime="{machine(expires)}">' in clocks
    assert "49 days" in clocks


def test_an_overdue_request_says_by_how_much(reviewer_client):
    request = make_legal_request(due_at=timezone.now() - timedelta(hours=5, minutes=10))

    page = reviewer_client.get(page_url(request)).content.decode()

    assert "Overdue by 5 hours 10 minutes" in section(page, "clocks")
    assert '<span class="clock clock-overdue">' in page


def test_the_documents_are_listed_with_their_hash_and_a_download_link(reviewer_client):
    request = make_legal_request()
    attachment = make_attachment(request, filename="court-order.pdf")

    documents = section(reviewer_client.get(page_url(request)).content.decode(), "documents")

    assert f'href="{document_url(request, attachment)}" download' in documents
    assert "Download court-order.pdf" in documents
    assert attachment.sha256 in documents


def test_the_timeline_lists_the_requests_audit_events_in_chain_order_in_words(
    reviewer_client, reviewer
):
    request = make_legal_request(case_reference=CASE)
    other = make_legal_request()
    services.request_claim(request=request, reviewer=reviewer)
    services.request_claim(request=other, reviewer=reviewer)
    services.clarification_ask(request=request, reviewer=reviewer, body="Which account exactly?")
    services.message_from_authority(
        request=request, officer=request.officer, body="The one registered in March."
    )

    timeline = section(reviewer_client.get(page_url(request)).content.decode(), "timeline")

    events = AuditEvent.objects.filter(
        target_type="requests_app.legalrequest", target_id=str(request.pk)
    ).order_by("seq")
    assert [e.action for e in events] == [
        "legal_request.received",
        "legal_request.claim",
        "legal_request.ask_clarification",
        "legal_request.authority_replies",
    ]
    texts = [
        "Received and verified",
        "Claimed for review",
        "Clarification asked of the authority",
        "The authority answered; the clock runs again",
    ]
    positions = [timeline.index(text) for text in texts]
    assert positions == sorted(positions)
    assert 'Received <span aria-hidden="true">→</span>' in timeline
    assert "In review" in timeline
    assert "Awaiting clarification" in timeline
    assert "Rita Reviewer (rita@platform.example)" in timeline
    for event in events:
        assert f"event #{event.seq}<" in timeline
    assert timeline.count("Claimed for review") == 1  # the other request's claim is not here


def test_the_clarification_thread_and_every_decision_so_far_are_shown(reviewer_client, reviewer):
    second = make_reviewer(full_name="Sam Second")
    request = make_legal_request(status=S.IN_REVIEW, assignee=reviewer)
    target = request.targets.get()
    services.clarification_ask(request=request, reviewer=reviewer, body="Which account?")
    services.message_from_authority(request=request, officer=request.officer, body="This one.")
    Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.APPROVE_PARTIAL,
        state=Decision.State.OVERRULED,
        proposed_by=reviewer,
        confirmed_by=second,
        confirmed_at=timezone.now(),
        approved_target_ids=[target.pk],
        approved_categories=["ip_addresses"],
        approved_period_from=date(2026, 2, 1),
        approved_period_to=date(2026, 2, 28),
        internal_note="Too wide for the offence.",
    )

    page = reviewer_client.get(page_url(request)).content.decode()

    thread = section(page, "messages")
    assert thread.index("Which account?") < thread.index("This one.")
    assert "<strong>Platform</strong>: Rita Reviewer" in thread
    assert "<strong>Authority</strong>" in thread
    decisions = section(page, "decisions")
    assert "Approve in part" in decisions
    assert "Not confirmed by the second reviewer by Sam Second" in decisions
    assert f"Username: {target.value}" in decisions
    assert "IP addresses with timestamps" in decisions
    assert f"{day(2026, 2, 1)} to {day(2026, 2, 28)}" in strip_tags(decisions)
    assert "Too wide for the offence." in decisions


def test_the_decision_tools_are_on_the_page(reviewer_client):
    request = make_legal_request()

    page = reviewer_client.get(page_url(request)).content.decode()

    assert 'id="review-tools"' in page
    assert f'action="/review/{request.reference}/claim/"' in page


def test_the_page_takes_a_fixed_number_of_queries(
    reviewer_client, reviewer, django_assert_max_num_queries
):
    request = make_legal_request(status=S.IN_REVIEW, assignee=reviewer)
    for number in range(6):
        make_attachment(request, content=f"%PDF-1.4 {number}".encode())
        services.clarification_ask(request=request, reviewer=reviewer, body=f"Question {number}")
        services.message_from_authority(request=request, officer=request.officer, body="Answer")

    with django_assert_max_num_queries(30):
        response = reviewer_client.get(page_url(request))

    assert response.status_code == 200


# --- The documents -------------------------------------------------------------------------


def test_a_document_downloads_as_an_attachment_never_inline_and_the_reading_is_audited(
    reviewer_client, reviewer
):
    request = make_legal_request()
    content = b"%PDF-1.4\n<html><script>alert(1)</script>"
    attachment = make_attachment(request, content=content, filename="order.pdf")
    mark = audit_mark()

    response = reviewer_client.get(document_url(request, attachment))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Disposition"] == 'attachment; filename="order.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    events = list(AuditEvent.objects.filter(seq__gt=mark))
    assert [(e.action, e.actor_id, e.target_id) for e in events] == [
        ("attachment.downloaded", reviewer.pk, str(request.pk))
    ]
    assert events[0].data["sha256"] == attachment.sha256
    timeline = section(reviewer_client.get(page_url(request)).content.decode(), "timeline")
    assert "Legal document downloaded" in timeline
    assert "opened in the viewer" not in timeline


def test_an_opening_in_the_viewer_is_audited_as_a_viewing_not_a_download(reviewer_client, reviewer):
    request = make_legal_request()
    content = b"%PDF-1.4\n% the order\n"
    attachment = make_attachment(request, content=content, filename="order.pdf")
    mark = audit_mark()

    viewed = reviewer_client.get(viewer_url(request, attachment))
    downloaded = reviewer_client.get(document_url(request, attachment))

    # The same bytes and the same defensive headers as a download.
    for response in (viewed, downloaded):
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == content
        assert response["Content-Disposition"] == 'attachment; filename="order.pdf"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "no-store" in response["Cache-Control"]
    events = list(AuditEvent.objects.filter(seq__gt=mark).order_by("seq"))
    assert [(e.action, e.actor_id, e.target_id) for e in events] == [
        ("document.viewed", reviewer.pk, str(request.pk)),
        ("attachment.downloaded", reviewer.pk, str(request.pk)),
    ]
    assert events[0].data == events[1].data
    assert events[0].data["attachment_id"] == attachment.pk
    assert events[0].data["sha256"] == attachment.sha256
    # Each with its own words on the timeline, the opening first.
    page = reviewer_client.get(page_url(request)).content.decode()
    timeline = section(page, "timeline")
    assert timeline.index("Legal document opened in the viewer") < timeline.index(
        "Legal document downloaded"
    )
    # The page's viewer fetches from the viewing address; the link downloads.
    assert f'data-document-url="{viewer_url(request, attachment)}"' in page
    assert f'<a href="{document_url(request, attachment)}" download' in page


def test_a_document_whose_stored_type_is_not_allowed_downloads_as_bytes(reviewer_client):
    request = make_legal_request()
    attachment = make_attachment(request, content=b"<html></html>", media_type="text/html")

    response = reviewer_client.get(document_url(request, attachment))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("swap", ["another document", "not ciphertext"])
def test_a_stored_document_that_was_swapped_is_refused_and_nothing_is_audited(
    reviewer_client, swap
):
    """Someone with write access to the storage replaces a document: the reviewer gets a
    clear refusal, never the replacement, and no reading is recorded."""
    request = make_legal_request()
    attachment = make_attachment(request, content=b"%PDF-1.4\n% the real order\n")
    forged = make_attachment(make_legal_request(), content=b"%PDF-1.4\n% a forged order\n")
    with forged.file.open("rb") as source:
        replacement = source.read() if swap == "another document" else b"%PDF-1.4\n% plain\n"
    with attachment.file.open("wb") as target:
        target.write(replacement)
    mark = audit_mark()

    response = reviewer_client.get(document_url(request, attachment))

    assert response.status_code == 500
    assert b"forged" not in response.content
    assert b"plain" not in response.content
    assert "cannot be opened" in response.content.decode()
    assert not AuditEvent.objects.filter(seq__gt=mark).exists()


def test_a_document_of_another_request_is_not_found_and_nothing_is_audited(reviewer_client):
    request = make_legal_request()
    other = make_legal_request()
    attachment = make_attachment(other, filename="other-order.pdf")
    mark = audit_mark()

    response = reviewer_client.get(document_url(request, attachment))
    viewed = reviewer_client.get(viewer_url(request, attachment))
    missing = reviewer_client.get(f"/review/{request.reference}/documents/999999/")

    assert response.status_code == 404
    assert viewed.status_code == 404
    assert missing.status_code == 404
    assert b"other-order.pdf" not in response.content
    assert b"other-order.pdf" not in viewed.content
    assert audit_mark() == mark


def test_an_unknown_reference_is_not_found(reviewer_client):
    assert reviewer_client.get("/review/LR-2026-NOSUCH/").status_code == 404
    assert reviewer_client.get("/review/LR-2026-NOSUCH/documents/1/").status_code == 404


# --- Who gets in ---------------------------------------------------------------------------


def log_in_as(client: Client, who: str, request: LegalRequest) -> None:
    if who == "the requesting officer":
        log_in(client, request.officer.user)
    elif who == "vetting admin":
        log_in(client, make_user(role=Role.VETTING_ADMIN, is_staff=True, is_superuser=True))
    elif who == "password-only reviewer":
        response = client.post("/login/", {"username": make_reviewer().email, "password": PASSWORD})
        assert response.status_code == 302
        assert "_auth_user_id" in client.session


@pytest.mark.parametrize(
    "who", ["anonymous", "the requesting officer", "vetting admin", "password-only reviewer"]
)
def test_the_request_page_and_its_documents_refuse_everyone_but_a_reviewer_and_leak_nothing(
    client, who
):
    request = make_legal_request(case_reference=CASE, targets=[("username", "secret_target")])
    attachment = make_attachment(request, filename="secret-order.pdf")
    log_in_as(client, who, request)
    mark = audit_mark()

    responses = [
        client.get(page_url(request)),
        client.get(document_url(request, attachment)),
        client.get("/review/LR-2026-NOSUCH/"),
        client.get("/review/LR-2026-NOSUCH/documents/1/"),
        client.get(viewer_url(request, attachment)),
        client.get("/review/LR-2026-NOSUCH/documents/1/view/"),
    ]

    for response in responses:
        if who in ("the requesting officer", "vetting admin"):
            assert response.status_code == 403
        elif who == "password-only reviewer":
            assert response.status_code == 302
            assert response["Location"].startswith("/login/verify/")
        else:
            assert response.status_code == 302
            assert response["Location"].startswith("/login/")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for secret in (CASE, "secret_target", "secret-order.pdf", request.payload_sha256):
            assert secret.encode() not in body
    # An existing and an unknown reference get the same answer: no way to probe for one.
    assert responses[0].status_code == responses[2].status_code
    assert responses[1].status_code == responses[3].status_code
    assert responses[4].status_code == responses[5].status_code
    assert not AuditEvent.objects.filter(seq__gt=mark).exists()


def test_the_gatekeeper_answers_not_found_to_anyone_but_an_active_reviewer():
    request = make_legal_request()
    attachment = make_attachment(request)
    inactive = make_reviewer(is_active=False)
    mark = audit_mark()

    for user in (request.officer.user, make_user(role=Role.VETTING_ADMIN), inactive):
        with pytest.raises(Http404):
            request_get_for_reviewer(user=user, reference=request.reference)
        with pytest.raises(Http404):
            attachment_open_for_reviewer(
                user=user, reference=request.reference, attachment_id=attachment.pk
            )
    assert audit_mark() == mark
    reviewer = make_reviewer()
    assert request_get_for_reviewer(user=reviewer, reference=request.reference) == request
    with pytest.raises(Http404):
        request_get_for_reviewer(user=reviewer, reference="LR-2026-NOSUCH")


# --- Accessibility -------------------------------------------------------------------------


def test_every_table_on_the_page_has_a_caption_and_scoped_headers(reviewer_client, reviewer):
    request = make_legal_request(status=S.IN_REVIEW, assignee=reviewer)
    make_attachment(request)

    page = reviewer_client.get(page_url(request)).content.decode()

    mine = page.split('<section id="review-tools"')[0] + page.split('<section id="timeline"')[1]
    assert mine.count("<table") == mine.count("<caption")
    assert "<th>" not in mine
    assert '<nav aria-label="On this page"' in page
