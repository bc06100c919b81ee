"""The officer's home page: their work list, each count the one their list pages show."""

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.review.models import Decision
from tests.factories import log_in, make_age_recipient, make_officer, make_signing_key
from tests.requests_app.factories import make_legal_request

pytestmark = pytest.mark.django_db

S = LegalRequest.Status


def count_on(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}">(\d+)<', page).group(1))


def section(page: str, section_id: str) -> str:
    start = page.index(f'<section class="card work-list" id="{section_id}"')
    return page[start : page.index("</section>", start)]


def sealed(request: LegalRequest, *, downloads: int = 0, expires_in=timedelta(days=20)):
    decision = Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.APPROVE_FULL,
        state=Decision.State.CONFIRMED,
        proposed_by=request.officer.user,
    )
    disclosure = Disclosure.objects.create(
        request=request, decision=decision, created_by=request.officer.user
    )
    return SealedResponse.objects.create(
        disclosure=disclosure,
        request=request,
        file=f"sealed/{request.reference}.age",
        size=100,
        sha256="0" * 64,
        expires_at=timezone.now() + expires_in,
        download_count=downloads,
    )


@pytest.fixture
def officer():
    return make_officer()


@pytest.fixture
def officer_client(client, officer):
    log_in(client, officer.user)
    return client


def test_the_officers_home_page_counts_what_their_list_pages_show(officer_client, officer):
    now = timezone.now()
    waiting = [
        make_legal_request(
            officer=officer,
            status=S.AWAITING_CLARIFICATION,
            paused_since=now - timedelta(hours=h),
        )
        for h in (2, 30)
    ]
    due_soon = make_legal_request(officer=officer, status=S.IN_REVIEW, due_in=timedelta(hours=20))
    overdue = make_legal_request(officer=officer, due_in=timedelta(hours=-3))
    make_legal_request(officer=officer, due_in=timedelta(days=9))  # not due soon
    ending = make_legal_request(
        officer=officer, kind="preservation", received_at=now - timedelta(days=55)
    )
    ReviewState.objects.create(request=ending, preservation_expires_at=now + timedelta(days=5))
    new = sealed(make_legal_request(officer=officer, status=S.DISCLOSED))
    sealed(make_legal_request(officer=officer, status=S.DISCLOSED), downloads=1)
    sealed(make_legal_request(officer=officer, status=S.DISCLOSED), expires_in=timedelta(days=-1))
    make_signing_key(officer=officer)
    make_age_recipient(officer=officer)
    make_signing_key(officer=officer, status="active")
    # Another officer's work is not theirs.
    stranger = make_officer(agency=officer.agency)
    make_legal_request(officer=stranger, status=S.AWAITING_CLARIFICATION)
    make_signing_key(officer=stranger)

    home = officer_client.get("/").content.decode()
    listing = officer_client.get("/requests/mine/").content.decode()
    responses = officer_client.get("/responses/").content.decode()
    keys = officer_client.get("/account/keys/").content.decode()

    # Waiting for an answer: the list's banner says the same number.
    assert count_on(home, "waiting") == 2
    assert "2 requests wait for your answer" in listing
    for item in waiting:
        assert f'href="/requests/mine/{item.reference}/#thread"' in section(home, "waiting")
    assert "Paused" in section(home, "waiting")
    # Due soon: the rows of the list with a near or passed deadline, and a preservation
    # that ends within a week.
    # (A deadline's badge: ⚠ or ◷; an emergency's is ‼.)
    deadline_badge = r'clock-(?:today|soon|overdue)"><span aria-hidden="true">[⚠◷] '
    badges = len(re.findall(deadline_badge, listing))
    assert count_on(home, "due") == badges + listing.count("Ends soon") == 3
    for item in (due_soon, overdue, ending):
        assert f'href="/requests/mine/{item.reference}/"' in section(home, "due-soon")
    # New responses: available and not downloaded yet, with their date.
    rows = responses.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    fresh = [row for row in rows if "response-actions" in row and "Downloaded" not in row]
    assert count_on(home, "responses") == len(fresh) == 1
    assert new.request.reference in section(home, "responses")
    utc = new.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'datetime="{utc}"' in section(home, "responses")
    # Keys: the keys page's pending ones.
    assert count_on(home, "keys") == keys.count("status-pending") == 2


def test_an_officer_with_nothing_waiting_is_told_so(officer_client):
    home = officer_client.get("/").content.decode()

    assert "Nothing waits for you" in home
    for key in ("waiting", "responses", "keys", "due"):
        assert count_on(home, key) == 0


def test_an_officer_waiting_for_vetting_sees_no_work_list(client):
    pending = make_officer(status="pending")
    log_in(client, pending.user)

    page = client.get("/").content.decode()

    assert 'class="work-lists"' not in page
    assert pending.user.role == Role.OFFICER
