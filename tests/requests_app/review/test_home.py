"""The reviewer's home page: emergencies, mine by due time, overdue, waiting for my second
approval, unassigned; each count the queue's for the same list, each row a link."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.review.models import Decision
from tests.factories import log_in
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

S = LegalRequest.Status
LISTS = ("emergencies", "mine", "overdue", "second", "unassigned")


def count_on(page: str, key: str) -> int:
    return int(re.search(rf'data-count="{key}">(\d+)<', page).group(1))


def section(page: str, key: str) -> str:
    start = page.index(f'<section class="card work-list" id="{key}"')
    return page[start : page.index("</section>", start)]


def queue_references(client, query: str) -> set[str]:
    page = client.get(f"/review/?{query}").content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return set(re.findall(r'<a href="/review/([^/"]+)/">', body))


@pytest.fixture
def reviewer():
    return make_reviewer(full_name="Rosa Reviewer")


@pytest.fixture
def reviewer_client(client, reviewer):
    log_in(client, reviewer)
    return client


def proposal(request: LegalRequest, by) -> Decision:
    return Decision.objects.create(
        request=request, outcome=Decision.Outcome.APPROVE_FULL, proposed_by=by
    )


def test_each_list_counts_what_the_queue_shows_for_it_and_links_each_request(
    reviewer_client, reviewer
):
    now = timezone.now()
    colleague = make_reviewer()
    emergency = make_legal_request(kind="emergency", due_in=timedelta(hours=6))
    claimed_emergency = make_legal_request(kind="emergency", status=S.IN_REVIEW, assignee=colleague)
    mine_soon = make_legal_request(status=S.IN_REVIEW, assignee=reviewer, due_in=timedelta(hours=5))
    mine_later = make_legal_request(status=S.IN_REVIEW, assignee=reviewer, due_in=timedelta(days=8))
    overdue = make_legal_request(due_in=timedelta(hours=-4))
    lapsed = make_legal_request(
        kind="preservation", status=S.APPROVED, assignee=colleague, due_in=timedelta(days=3)
    )
    ReviewState.objects.filter(request=lapsed).update(
        preservation_expires_at=now - timedelta(days=20)
    )
    to_confirm = make_legal_request(status=S.IN_REVIEW, assignee=colleague)
    proposal(to_confirm, colleague)
    my_own = make_legal_request(status=S.IN_REVIEW, assignee=reviewer)
    proposal(my_own, reviewer)  # my own proposal is not for my second approval
    make_legal_request(status=S.CLOSED, due_in=timedelta(days=-30))  # archive: in no list

    home = reviewer_client.get("/").content.decode()

    expected = {
        "emergencies": {emergency.reference, claimed_emergency.reference},
        "mine": {mine_soon.reference, mine_later.reference, my_own.reference},
        "overdue": {overdue.reference, lapsed.reference},
        "second": {to_confirm.reference},
        "unassigned": {emergency.reference, overdue.reference},
    }
    for key in LISTS:
        listed = section(home, key)
        link = re.search(r'href="/review/\?([^"]+)"', listed).group(1).replace("&amp;", "&")
        in_queue = queue_references(reviewer_client, link)
        assert count_on(home, key) == len(in_queue), key
        assert in_queue == expected[key], key
        for reference in in_queue:
            assert f'href="/review/{reference}/"' in listed, (key, reference)
    # Mine by due time: the sooner first.
    mine = section(home, "mine")
    assert mine.index(mine_soon.reference) < mine.index(mine_later.reference)
    # The lapsed preservation says it is overdue.
    assert "Overdue" in section(home, "overdue").split(lapsed.reference, 1)[1].split("</li>")[0]


def test_the_welcome_and_empty_lists_read_as_such(reviewer_client):
    home = reviewer_client.get("/").content.decode()

    assert "Welcome, Rosa Reviewer" in home
    for key in LISTS:
        assert count_on(home, key) == 0
        assert "Nothing here." in section(home, key)


def test_a_list_shows_its_first_rows_and_counts_them_all(reviewer_client):
    for _ in range(12):
        make_legal_request(due_in=timedelta(hours=-1))

    home = reviewer_client.get("/").content.decode()

    assert count_on(home, "overdue") == 12
    assert section(home, "overdue").count("<li>") == 10
    assert "See them in the queue (12 requests)" in section(home, "overdue")
