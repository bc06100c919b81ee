"""Intake's staff page of rejections: counts by code, agency, day and address.

Counts are checked against a fixture whose numbers are worked out by hand below. Everyone
but a verified vetting administrator is refused the page. A refusal's detail is kept in
the language the submitter was answered in, and shown so, marked with that language; the
codes are explained in the administrator's own.
"""

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.html import escape
from pytest_django.asserts import assertInHTML

from portal.problems import TYPE_PREFIX, status_title
from requests_app.intake import staff_selectors
from requests_app.intake.models import IntakeRejection
from requests_app.intake.staff_selectors import (
    REJECTION_MEANINGS,
    RejectionFilters,
    rejection_overview,
)
from tests.factories import (
    log_in,
    make_agency,
    make_officer,
)
from tests.requests_app.signing import pdf_bytes, post_envelope, submission
from tests.requests_app.staff_pages import (
    REFUSED,
    assert_refused_to_all_but_a_verified_vetting_admin,
    noon,
    reject,
)

pytestmark = [pytest.mark.django_db]


# --- Helpers ---------------------------------------------------------------------------


class Attack:
    """The fixture: a quiet agency under attack, a noisy one, a careless one, strangers.

    T is today (UTC). Every rejection is at noon (plus seconds) of its day.
      A (DE): 1 unknown_key a day from T-60 to T-3 from 192.0.2.10, then 12 bad_signature
              on T-2 from 203.0.113.66: the burst.
      C (ES): 4 bad_signature a day from T-60 to T-1 from 192.0.2.30 (a broken client),
              then 10 on T: high, but under 3x its median of 4, so no burst.
      B (FR): 3 malformed on T-1 (web channel), 2 policy_violation on T-5, and 6
              bad_signature on T-40 (before the default range), from 192.0.2.20.
      No agency: 6 unauthenticated on T-2 from 198.51.100.7.

    In the default range T-29..T:
      A: 27 unknown_key + 12 bad_signature = 39;  C: 4 x 29 + 10 = 126;  B: 3 + 2 = 5;
      no agency: 6.  Total 176.  By code: bad_signature 138, unknown_key 27,
      unauthenticated 6, malformed 3, policy_violation 2.
      Signature failures per day (all agencies): 5 on most days, T-5: 5, T-2: 16,
      T-1: 4, T: 10. The median before T-2 is 5, so T-2 (16 >= 15) is a burst day.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        T = today  # noqa: N806 (the docstring's name)
        self.a = make_agency(country="DE", name="Landeskriminalamt Berlin")
        self.b = make_agency(country="FR", name="Police nationale Lyon")
        self.c = make_agency(country="ES", name="Guardia Civil Madrid")
        self.officer_a = make_officer(agency=self.a)
        for n in range(3, 61):
            reject(
                1,
                day=T - timedelta(days=n),
                code="unknown_key",
                agency=self.a,
                ip="192.0.2.10",
                officer=self.officer_a,
            )
        reject(
            12,
            day=T - timedelta(days=2),
            code="bad_signature",
            agency=self.a,
            ip="203.0.113.66",
            officer=self.officer_a,
        )
        for n in range(1, 61):
            reject(
                4, day=T - timedelta(days=n), code="bad_signature", agency=self.c, ip="192.0.2.30"
            )
        reject(10, day=T, code="bad_signature", agency=self.c, ip="192.0.2.30")
        reject(
            3,
            day=T - timedelta(days=1),
            code="malformed",
            agency=self.b,
            ip="192.0.2.20",
            channel="web",
        )
        reject(
            2, day=T - timedelta(days=5), code="policy_violation", agency=self.b, ip="192.0.2.20"
        )
        reject(6, day=T - timedelta(days=40), code="bad_signature", agency=self.b, ip="192.0.2.20")
        reject(6, day=T - timedelta(days=2), code="unauthenticated", ip="198.51.100.7")


@pytest.fixture
def attack() -> Attack:
    return Attack(timezone.now().date())


def overview(admin, attack: Attack, **filters):
    base = RejectionFilters.default(attack.today)
    return rejection_overview(
        user=admin,
        filters=RejectionFilters(
            date_from=filters.pop("date_from", base.date_from),
            date_to=filters.pop("date_to", base.date_to),
            **filters,
        ),
    )


# --- Rejections: the counts ------------------------------------------------------------


def test_rejections_are_counted_by_code_agency_and_address_as_worked_out_by_hand(admin, attack):
    seen = overview(admin, attack)

    assert seen.total == 176
    assert [(row.code, row.count) for row in seen.by_code] == [
        ("bad_signature", 138),
        ("unknown_key", 27),
        ("unauthenticated", 6),
        ("malformed", 3),
        ("policy_violation", 2),
    ]
    assert [(row.name, row.count, row.signature_failures) for row in seen.by_agency] == [
        ("Guardia Civil Madrid", 126, 126),
        ("Landeskriminalamt Berlin", 39, 39),
        ("Sender not recognised", 6, 0),
        ("Police nationale Lyon", 5, 0),
    ]
    assert [(a.ip, a.count, a.signature_failures, a.agencies) for a in seen.addresses] == [
        ("192.0.2.30", 126, 126, 1),
        ("192.0.2.10", 27, 27, 1),
        ("203.0.113.66", 12, 12, 1),
        ("198.51.100.7", 6, 0, 0),
        ("192.0.2.20", 5, 0, 1),
    ]
    assert seen.signature_failures == 165


def test_rejections_are_counted_per_day_with_every_day_of_the_range_listed(admin, attack):
    T = attack.today  # noqa: N806
    days = {row.day: row for row in overview(admin, attack).by_day}

    assert list(days) == [T - timedelta(days=n) for n in range(30)]  # newest first
    assert (days[T].count, days[T].signature_failures) == (10, 10)
    assert (days[T - timedelta(days=1)].count, days[T - timedelta(days=1)].signature_failures) == (
        7,
        4,
    )
    assert (days[T - timedelta(days=2)].count, days[T - timedelta(days=2)].signature_failures) == (
        22,
        16,
    )
    assert (days[T - timedelta(days=5)].count, days[T - timedelta(days=5)].signature_failures) == (
        7,
        5,
    )
    assert {
        (row.count, row.signature_failures)
        for d, row in days.items()
        if (T - d).days not in (0, 1, 2, 5)
    } == {(5, 5)}
    assert sum(row.count for row in days.values()) == 176


def test_a_burst_of_bad_signatures_stands_out_by_agency_and_by_day(admin, attack):
    T = attack.today  # noqa: N806
    seen = overview(admin, attack)

    # A's 12 against a median of 1 is a burst; C's 10 against a median of 4 is not.
    assert [(b.day, b.name, b.signature_failures, b.baseline) for b in seen.bursts] == [
        (T - timedelta(days=2), "Landeskriminalamt Berlin", 12, 1.0)
    ]
    flagged = [(row.day, row.signature_failures, row.baseline) for row in seen.by_day if row.burst]
    assert flagged == [(T - timedelta(days=2), 16, 5.0)]


def test_the_filters_narrow_every_count(admin, attack):
    T = attack.today  # noqa: N806
    assert overview(admin, attack, code="bad_signature").total == 138
    assert overview(admin, attack, agency=str(attack.a.pk)).total == 39
    assert overview(admin, attack, agency="none").total == 6
    assert overview(admin, attack, channel="web").total == 3
    by_ip = overview(admin, attack, ip="203.0.113.66")
    assert by_ip.total == 12
    assert [(b.name, b.baseline) for b in by_ip.bursts] == [("Landeskriminalamt Berlin", 0.0)]
    # A code other than the signature codes leaves no signature failure to flag.
    assert overview(admin, attack, code="malformed").bursts == []
    # T-40 is outside the default range but inside a range that reaches it.
    wide = overview(admin, attack, date_from=T - timedelta(days=45), date_to=T - timedelta(days=35))
    assert [(row.name, row.count) for row in wide.by_agency] == [
        ("Guardia Civil Madrid", 44),
        ("Landeskriminalamt Berlin", 11),
        ("Police nationale Lyon", 6),
    ]
    # B's 6 on T-40 against a median of 0 is a burst of its own.
    assert [(b.day, b.name) for b in wide.bursts] == [
        (T - timedelta(days=40), "Police nationale Lyon")
    ]


def test_the_rejections_page_shows_the_counts_the_burst_and_the_newest_entries(
    admin_client, attack
):
    response = admin_client.get("/staff/rejections/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "176 rejections" in page
    assert '<tr class="burst">' in page
    assert "203.0.113.66" in page
    entries = response.context["overview"].page.entries
    assert len(entries) == staff_selectors.PAGE_SIZE
    assert entries[0].at == noon(attack.today) + timedelta(seconds=9)  # the newest first
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    assert response["Cache-Control"].startswith("max-age=0")


def test_what_an_attacker_sent_is_shown_escaped(admin_client):
    IntakeRejection.objects.create(
        channel="api",
        code="malformed",
        status=400,
        detail='Unknown field "<script>alert(1)</script>".',
        key_id="<img src=x onerror=alert(1)>",
        body_sha256="f" * 64,
    )
    page = admin_client.get("/staff/rejections/").content.decode()
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_the_rejections_page_filters_by_query_and_refuses_a_bad_range(admin_client, attack):
    response = admin_client.get(
        "/staff/rejections/", {"code": "malformed", "channel": "web", "agency": attack.b.pk}
    )
    assert response.status_code == 200
    assert response.context["overview"].total == 3

    backwards = admin_client.get(
        "/staff/rejections/", {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    too_long = admin_client.get(
        "/staff/rejections/", {"date_from": "2024-01-01", "date_to": "2026-01-01"}
    )
    unknown = admin_client.get("/staff/rejections/", {"code": "<script>", "agency": "999999"})
    for response in (backwards, too_long, unknown):
        assert response.status_code == 400
        assert response.context["overview"] is None
        assert 'role="alert"' in response.content.decode()
    assert "<script>" not in unknown.content.decode()


def test_the_entries_are_paged_within_a_bound(admin, attack, monkeypatch):
    monkeypatch.setattr(staff_selectors, "PAGE_SIZE", 10)
    monkeypatch.setattr(staff_selectors, "MAX_PAGES", 3)
    filters = RejectionFilters.default(attack.today)

    first = rejection_overview(user=admin, filters=filters, page=1).page
    third = rejection_overview(user=admin, filters=filters, page=3).page
    beyond = rejection_overview(user=admin, filters=filters, page=99).page

    assert (first.has_previous, first.has_next, first.capped) == (False, True, False)
    assert (third.has_next, third.capped) == (False, True)
    assert beyond.number == 3
    assert [e.pk for e in beyond.entries] == [e.pk for e in third.entries]
    everything = list(IntakeRejection.objects.order_by("-at", "-id").values_list("pk", flat=True))
    assert [e.pk for e in third.entries] == everything[20:30]


def test_the_rejections_page_needs_the_same_few_queries_however_large_the_log(
    admin_client, attack, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get("/staff/rejections/", {"page": 2}).status_code == 200
    for n in range(20):
        agency = make_agency(country="IT")
        reject(
            6,
            day=attack.today - timedelta(days=n),
            code="bad_signature",
            agency=agency,
            ip=f"192.0.2.{100 + n}",
        )
    with django_assert_max_num_queries(16):
        assert admin_client.get("/staff/rejections/", {"page": 3}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = admin_client.get("/staff/rejections/", {"page": 2})
    assert len(response.context["overview"].bursts) == 21
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"] for q in large.captured_queries
    ]


# --- The language of a refusal's detail ---------------------------------------------------

MISMATCH = "attachment_mismatch"


def refused_in(language: str, signer, token) -> dict:
    """Submit through the API, asking for ``language``, a document whose bytes differ from
    its signed hash; the problem document the submitter is answered with."""
    sub = submission()
    tampered = [("order.pdf", pdf_bytes("another order"), "application/pdf")]
    client = Client(headers={"Accept-Language": language})
    response = post_envelope(client, sub.sign(signer), tampered, token)
    assert response.status_code == 422, response.content
    return response.json()


def section(page: str, name: str) -> str:
    """The page's ``<section id="name">``, for checks that must not match elsewhere."""
    found = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert found, name
    return found.group(0)


def in_language(language: str, text) -> str:
    with translation.override(language):
        return str(text)


def test_a_refusal_records_the_language_the_submitter_was_answered_in(signer, token):
    answer = refused_in("de", signer, token)

    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.language) == (MISMATCH, "de")
    assert rejection.detail == answer["detail"]
    # The answer is the refusal it always was, in German: nothing was added or re-worded.
    with translation.override("de"):
        detail = translation.gettext(
            "%(name)s was not sent, or its bytes differ from the SHA-256 declared "
            "for it. Choose the file again."
        ) % {"name": "order.pdf"}
        title = status_title(422)
    assert not detail.startswith("order.pdf was not sent")  # German, not English
    assert answer == {
        "type": TYPE_PREFIX + MISMATCH,
        "title": title,
        "status": 422,
        "detail": detail,
        "code": MISMATCH,
        "index": 0,
    }


def test_a_web_refusal_records_the_officers_saved_language(officer):
    officer.user.language = "pt-br"
    officer.user.save(update_fields=["language"])
    session = Client()
    log_in(session, officer.user)

    response = session.post("/requests/new/submit/", data={"envelope": ""})

    assert response.status_code == 400, response.content
    rejection = IntakeRejection.objects.get()
    assert (rejection.channel, rejection.code, rejection.language) == ("web", "malformed", "pt-br")
    assert rejection.detail == response.json()["detail"]


def test_an_english_administrator_reads_the_code_explained_and_the_german_detail_marked(
    signer, token, admin
):
    detail = refused_in("de", signer, token)["detail"]
    admin.language = "en"
    admin.save(update_fields=["language"])
    staff = Client()
    log_in(staff, admin)

    page = staff.get("/staff/rejections/").content.decode()

    meaning = "A document is missing, extra, or differs from what the payload declares."
    assert in_language("en", REJECTION_MEANINGS[MISMATCH]) == meaning
    entries = section(page, "entries")
    assert meaning in entries
    assertInHTML(f'<span class="hint" lang="de">{escape(detail)}</span>', entries)
    assertInHTML('<span class="hint">(as sent, in German)</span>', entries)
    assertInHTML(f'<span class="hint">{meaning}</span>', section(page, "by-code"))
    assertInHTML(f'<option value="{MISMATCH}">{MISMATCH}: {meaning}</option>', page)


def test_a_german_administrator_reads_the_meaning_in_german_and_no_hint_for_german(
    signer, token, admin
):
    detail = refused_in("de", signer, token)["detail"]
    english = refused_in("en", signer, token)["detail"]
    admin.language = "de"
    admin.save(update_fields=["language"])
    staff = Client()
    log_in(staff, admin)

    page = staff.get("/staff/rejections/").content.decode()

    meaning = in_language("de", REJECTION_MEANINGS[MISMATCH])
    assert meaning != in_language("en", REJECTION_MEANINGS[MISMATCH])
    entries = section(page, "entries")
    assert meaning in entries
    # The German detail is marked as German, without a hint; the English one is named.
    assert entries.count("wie gesendet") == 1
    assertInHTML(f'<span class="hint" lang="de">{escape(detail)}</span>', entries)
    assertInHTML(f'<span class="hint" lang="en">{escape(english)}</span>', entries)
    assertInHTML('<span class="hint">(wie gesendet; Sprache: Englisch)</span>', entries, count=1)
    assertInHTML(f'<option value="{MISMATCH}">{MISMATCH}: {escape(meaning)}</option>', page)


def test_a_detail_logged_before_its_language_was_recorded_is_shown_as_before(admin_client):
    IntakeRejection.objects.create(
        channel="api", code="stale", status=400, detail="signed_at is old.", body_sha256="e" * 64
    )
    entries = section(admin_client.get("/staff/rejections/").content.decode(), "entries")
    assertInHTML('<span class="hint">signed_at is old.</span>', entries)
    assert "lang=" not in entries
    assert "as sent" not in entries


def test_markup_in_a_detail_and_its_language_is_shown_escaped(admin_client):
    IntakeRejection.objects.create(
        channel="api",
        code="malformed",
        status=400,
        detail='Unbekanntes Feld "<b onmouseover=alert(1)>".',
        language="de",
        body_sha256="f" * 64,
    )
    IntakeRejection.objects.create(
        channel="api",
        code="malformed",
        status=400,
        detail="<i>x</i>",
        language='"><i>',
        body_sha256="e" * 64,
    )
    page = admin_client.get("/staff/rejections/").content.decode()
    assert "<b onmouseover" not in page
    assert "<i>" not in page
    assertInHTML(
        '<span class="hint" lang="de">Unbekanntes Feld "&lt;b onmouseover=alert(1)&gt;".</span>',
        page,
    )
    assert 'lang="&quot;&gt;&lt;i&gt;"' in page
    assertInHTML('<span class="hint">(as sent, in &quot;&gt;&lt;i&gt;)</span>', page)


# --- Access ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", REFUSED)
def test_the_rejections_page_refuses_everyone_but_a_verified_vetting_admin(client, admin, who):
    assert_refused_to_all_but_a_verified_vetting_admin(
        client,
        admin,
        who,
        [
            ("get", "/staff/rejections/", {}),
            ("get", "/staff/rejections/", {"code": "bad_signature"}),
        ],
    )
