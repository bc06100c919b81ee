"""The clock badges (``{% clock_badge %}``, portal/templatetags/portal_badges.py): not by
colour alone. On the officer's, the supervisor's and the reviewer's pages every badge
says its words beside a sign hidden from screen readers, and a label is escaped."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from portal.templatetags.portal_badges import clock_badge
from requests_app.lifecycle import clocks
from requests_app.lifecycle.models import LegalRequest, ReviewState
from tests.factories import log_in, make_agency, make_officer, make_supervisor
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

S = LegalRequest.Status
# Any badge, as the page writes it: the pill, its sign (aria-hidden), then its words.
BADGE = re.compile(
    r'<span class="clock clock-[a-z]+(?: overdue-flag)?">'
    r'<span aria-hidden="true">[‼⚠‖◷] </span>[^<]+</span>'
)


def badge(css_class: str, sign: str, words: str) -> str:
    return f'<span class="clock clock-{css_class}"><span aria-hidden="true">{sign} </span>{words}'


def browser(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


def every_badge_has_its_sign(page: str) -> None:
    """No badge of the page lacks the sign (the page's own badges are asserted apart)."""
    assert page.count('class="clock ') == len(BADGE.findall(page))


@pytest.fixture
def work():
    """An agency's officer and supervisor, a reviewer, and the officer's requests in
    every state a badge tells: an emergency, overdue, paused, and a preservation that
    ends within a week."""
    now = timezone.now()
    officer = make_officer(agency=make_agency())
    requests = {
        "emergency": make_legal_request(
            officer=officer, kind="emergency", due_at=now + timedelta(days=3)
        ),
        "overdue": make_legal_request(officer=officer, due_at=now - timedelta(hours=3)),
        "paused": make_legal_request(
            officer=officer,
            status=S.AWAITING_CLARIFICATION,
            due_at=now + timedelta(days=3),
            paused_since=now - timedelta(hours=2),
        ),
        "ending": make_legal_request(
            officer=officer, kind="preservation", due_at=now + timedelta(days=9)
        ),
    }
    ReviewState.objects.create(
        request=requests["ending"], preservation_expires_at=now + timedelta(days=5)
    )
    return {
        "officer": browser(officer.user),
        "supervisor": browser(make_supervisor(agency=officer.agency).user),
        "reviewer": browser(make_reviewer()),
        "requests": requests,
    }


def test_the_officers_pages_show_each_badge_beside_its_sign(work):
    client, requests = work["officer"], work["requests"]
    listing = client.get("/requests/mine/").content.decode()
    home = client.get("/").content.decode()
    pages = {
        kind: client.get(f"/requests/mine/{request.reference}/").content.decode()
        for kind, request in requests.items()
    }

    assert badge("overdue", "‼", "Emergency") in listing
    assert badge("overdue", "⚠", "Overdue") in listing
    assert badge("paused", "‖", "Paused") in listing
    assert badge("ending", "◷", "Ends soon") in listing
    assert badge("overdue", "‼", "Emergency") in pages["emergency"]
    assert badge("overdue", "⚠", "Overdue") in pages["overdue"]
    assert badge("paused", "‖", "Paused") in pages["paused"]
    assert badge("ending", "◷", "Ends soon") in pages["ending"]
    assert badge("paused", "‖", "Paused") in home
    assert badge("overdue", "⚠", "Overdue") in home
    assert badge("ending", "◷", "Preservation ends soon") in home
    for page in (listing, home, *pages.values()):
        every_badge_has_its_sign(page)


def test_the_supervisors_pages_show_each_badge_beside_its_sign(work):
    client, requests = work["supervisor"], work["requests"]
    listing = client.get("/agency/requests/").content.decode()
    pages = {
        kind: client.get(f"/agency/requests/{request.reference}/").content.decode()
        for kind, request in requests.items()
    }

    assert badge("overdue", "‼", "Emergency") in listing
    assert badge("overdue", "⚠", "Overdue") in listing
    assert badge("paused", "‖", "Paused") in listing
    assert badge("overdue", "‼", "Emergency") in pages["emergency"]
    assert badge("overdue", "⚠", "Overdue") in pages["overdue"]
    assert badge("paused", "‖", "Paused") in pages["paused"]
    assert badge("ending", "◷", "Ends soon") in pages["ending"]
    for page in (listing, *pages.values()):
        every_badge_has_its_sign(page)


def test_the_reviewers_pages_show_each_badge_beside_its_sign(work):
    client, requests = work["reviewer"], work["requests"]
    # Paused after its deadline: late work, which the page flags beside the paused badge.
    late = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=timezone.now() - timedelta(days=2),
        paused_since=timezone.now() - timedelta(days=1),
    )
    home = client.get("/").content.decode()
    queue = client.get("/review/").content.decode()
    pages = {
        kind: client.get(f"/review/{request.reference}/").content.decode()
        for kind, request in {**requests, "late": late}.items()
    }

    assert badge("overdue", "‼", "Emergency") in home
    assert badge("overdue", "⚠", "Overdue") in home
    assert badge("overdue", "‼", "Emergency") in queue
    assert badge("paused", "‖", "Paused: awaiting clarification") in queue
    assert badge("overdue", "‼", "Emergency") in pages["emergency"]
    assert badge("overdue", "⚠", "Overdue") in pages["overdue"]
    assert badge("paused", "‖", "Paused: awaiting clarification") in pages["paused"]
    assert badge("paused", "‖", "Paused: awaiting clarification") in pages["late"]
    assert badge("overdue overdue-flag", "⚠", "Overdue") in pages["late"]
    for page in (home, queue, *pages.values()):
        every_badge_has_its_sign(page)


def test_a_label_with_markup_is_escaped_on_every_page(work, monkeypatch):
    monkeypatch.setitem(clocks.BADGE_LABELS, "overdue", '<i>Late</i> & "due"')
    overdue = work["requests"]["overdue"].reference
    escaped = badge("overdue", "⚠", "&lt;i&gt;Late&lt;/i&gt; &amp; &quot;due&quot;")
    pages = [
        work["officer"].get("/requests/mine/"),
        work["officer"].get(f"/requests/mine/{overdue}/"),
        work["supervisor"].get("/agency/requests/"),
        work["supervisor"].get(f"/agency/requests/{overdue}/"),
        work["reviewer"].get("/review/"),
        work["reviewer"].get(f"/review/{overdue}/"),
    ]

    for response in pages:
        page = response.content.decode()
        assert escaped in page
        assert "<i>Late</i>" not in page


def test_the_tag_and_the_function_write_the_same_escaped_badge():
    label = '<script>alert("x")</script>'
    rendered = Template(
        '{% load portal_badges %}{% clock_badge "soon" label %}'
        '{% clock_badge "overdue" label "overdue-flag" %}'
    ).render(Context({"label": label}))

    assert rendered == (
        '<span class="clock clock-soon"><span aria-hidden="true">◷ </span>'
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</span>"
        '<span class="clock clock-overdue overdue-flag"><span aria-hidden="true">⚠ </span>'
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</span>"
    )
    assert rendered == clock_badge("soon", label) + clock_badge("overdue", label, "overdue-flag")
    with pytest.raises(ValueError, match="'late'"):
        clock_badge("late", "Late")


def test_every_deadline_badge_the_clock_can_show_has_its_sign():
    """A new badge of the deadline clock must be added to the table, or its pages fail."""
    from portal.templatetags.portal_badges import clock_badge
    from requests_app.lifecycle.clocks import BADGE_LABELS

    for kind, label in BADGE_LABELS.items():
        if label:
            assert 'aria-hidden="true"' in clock_badge(kind, str(label))
