"""Times on the home pages: ``{% when %}`` in the active zone, UTC for machines, and a zone
stored wrong on a user that changes nothing but falls back to UTC."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone, translation

from accounts.models import User
from portal.templatetags.portal_time import relative_text, when_html
from tests.factories import log_in
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

DUE = datetime(2031, 3, 14, 15, 9, tzinfo=UTC)


def test_a_zone_stored_wrong_on_a_user_falls_back_to_utc_without_an_error(
    client: Client,
) -> None:
    reviewer = make_reviewer()
    make_legal_request(due_at=DUE, assignee=reviewer)
    # Not through the account page (which refuses it): as a bad migration or an old row.
    User.objects.filter(pk=reviewer.pk).update(time_zone="Mars/Olympus_Mons")
    log_in(client, reviewer)

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    shown = re.search(r'<time datetime="2031-03-14T15:09:00Z">([^<]+)</time>', page)
    assert shown, "the due time is not on the home page"
    with translation.override("en"), timezone.override("UTC"):
        assert shown.group(1) == re.search(r">([^<]+)<", when_html(DUE)).group(1)
    assert shown.group(1).endswith("UTC")
    assert 'data-time-zone="UTC"' in page


def test_when_shows_the_active_zone_with_its_abbreviation_in_the_active_language() -> None:
    with translation.override("de"), timezone.override("Europe/Berlin"):
        html = when_html(DUE)
        date_only = when_html(DUE, "date")
    assert html == '<time datetime="2031-03-14T15:09:00Z">14. März 2031 16:09 CET</time>'
    assert date_only == '<time datetime="2031-03-14T15:09:00Z">14. März 2031</time>'


def test_a_deadline_names_how_far_away_it_is_in_the_active_language() -> None:
    now = DUE - timedelta(hours=7, minutes=53)
    with translation.override("en"):
        assert relative_text(DUE, now=now) == "in 7 hr 53 min"
        assert relative_text(now, now=DUE) == "7 hr 53 min ago"
    with translation.override("de"):
        assert relative_text(DUE, now=now) != "in 7 hr 53 min"
        german = relative_text(DUE, now=now)
    # The units are cached per (value, unit, language): each language keeps its own words.
    with translation.override("en"):
        assert relative_text(DUE, now=now) == "in 7 hr 53 min"
    with translation.override("de"):
        assert relative_text(DUE, now=now) == german
