"""The review queue: order, filters, deadline badges, counts, pages, claim, and who gets in.

Behaviour is tested through the page as a logged-in reviewer; paging and the order of
every sort are tested on the selector directly, with small pages.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import Role
from requests_app.lifecycle.models import LegalRequest, RequestKind, ReviewState
from requests_app.review import selectors
from requests_app.review.selectors import QUEUE_ORDERS, QueueFilters, request_queue
from tests.factories import PASSWORD, log_in, make_agency, make_officer, make_user
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [pytest.mark.django_db]

S = LegalRequest.Status
QUEUE = "/review/"


def references(response) -> list[str]:
    """The request references of the queue's rows, in page order."""
    page = response.content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<a href="/review/([^/"]+)/">', body)


def row_of(response, reference: str) -> str:
    page = response.content.decode()
    start = page.index(f'<a href="/review/{reference}/">')
    return page[page.rindex("<tr", 0, start) : page.index("</tr>", start)]


# --- Order ---------------------------------------------------------------------------------


def test_the_queue_shows_emergencies_first_then_overdue_then_by_due_date(reviewer_client):
    now = timezone.now()
    later = make_legal_request(due_at=now + timedelta(days=9))
    overdue = make_legal_request(due_at=now - timedelta(hours=3))
    soon = make_legal_request(due_at=now + timedelta(hours=5))
    emergency_later = make_legal_request(kind="emergency", due_at=now + timedelta(days=2))
    emergency_sooner = make_legal_request(kind="emergency", due_at=now + timedelta(hours=1))

    response = reviewer_client.get(QUEUE)

    assert response.status_code == 200
    assert references(response) == [
        emergency_sooner.reference,
        emergency_later.reference,
        overdue.reference,
        soon.reference,
        later.reference,
    ]


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_row_names_the_kind_the_state_the_agency_and_its_country_in_the_viewers_language(
    reviewer_client, language
):
    from django.utils import translation
    from django_countries import countries

    agency = make_agency(country="FR")
    request = make_legal_request(
        status=S.IN_REVIEW, kind="court_order", officer=make_officer(agency=agency)
    )

    response = reviewer_client.get(QUEUE, headers={"accept-language": language})

    row = row_of(response, request.reference)
    with translation.override(language):
        kind, state = str(RequestKind.COURT_ORDER.label), str(S.IN_REVIEW.label)
        country = str(countries.name("FR"))
    if language != "en":
        assert (kind, state, country) != ("Court order", "In review", "France")
    assert f'data-label="{"Art" if language == "de" else "Kind"}">{kind}</td>' in row
    assert f'<span class="status status-in_review">{state}</span>' in row
    assert f'{agency.name}<br><span class="hint">{country}</span>' in row


def test_the_queue_shows_open_work_by_default_and_any_state_when_asked(reviewer_client):
    open_ones = {
        status: make_legal_request(status=status)
        for status in (S.RECEIVED, S.IN_REVIEW, S.AWAITING_CLARIFICATION, S.APPROVED)
    }
    closed = make_legal_request(status=S.CLOSED)
    withdrawn = make_legal_request(status=S.WITHDRAWN)

    default = set(references(reviewer_client.get(QUEUE)))
    only_closed = references(reviewer_client.get(QUEUE, {"status": "closed"}))
    every = set(references(reviewer_client.get(QUEUE, {"status": "all"})))

    assert default == {r.reference for r in open_ones.values()}
    assert only_closed == [closed.reference]
    assert every == default | {closed.reference, withdrawn.reference}


# --- Filters -------------------------------------------------------------------------------


def test_each_filter_keeps_only_the_matching_requests(reviewer_client, reviewer):
    now = timezone.now()
    colleague = make_reviewer(full_name="Carl Colleague")
    french_agency = make_agency(country="FR", name="Police nationale")
    german = make_legal_request(kind="preservation", assignee=reviewer)
    french = make_legal_request(agency=french_agency, kind="court_order", assignee=colleague)
    overdue = make_legal_request(due_at=now - timedelta(hours=1))
    paused_overdue = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now - timedelta(hours=1),
        paused_since=now - timedelta(days=1),
    )
    answered_overdue = make_legal_request(status=S.APPROVED, due_at=now - timedelta(hours=2))
    unassigned = {overdue.reference, paused_overdue.reference, answered_overdue.reference}

    def shown(**params) -> set[str]:
        return set(references(reviewer_client.get(QUEUE, params)))

    assert shown(kind="preservation") == {german.reference}
    assert shown(country="FR") == {french.reference}
    assert shown(agency=french_agency.pk) == {french.reference}
    assert shown(assignee="mine") == {german.reference}
    assert shown(assignee=colleague.pk) == {french.reference}
    assert shown(assignee="unassigned") == unassigned
    # A clock paused before the deadline is not running out; an approved request past
    # its deadline is overdue work (nothing was handed over in time).
    assert shown(due="overdue") == {overdue.reference, answered_overdue.reference}
    assert shown(due="48h") == {overdue.reference, answered_overdue.reference}
    assert shown(status="awaiting_clarification") == {paused_overdue.reference}
    assert shown(kind="court_order", country="FR", assignee=colleague.pk) == {french.reference}
    assert shown(kind="court_order", country="DE") == set()


def test_a_filter_value_that_is_not_a_choice_is_reported_and_not_applied(reviewer_client):
    request = make_legal_request()

    response = reviewer_client.get(QUEUE, {"kind": "everything", "agency": "999999"})

    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "Kind: Select a valid choice." in page
    assert references(response) == [request.reference]


# --- Deadline badges -----------------------------------------------------------------------


def test_deadline_badges_say_overdue_due_today_due_soon_and_paused_in_words(
    reviewer_client, settings
):
    now = timezone.now()
    # Far from midnight in the portal's time zone, so "today" and "48 h" are distinct.
    settings.TIME_ZONE = "UTC"
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    overdue = make_legal_request(due_at=now - timedelta(hours=2))
    today = make_legal_request(
        due_at=min(now + timedelta(minutes=30), midnight + timedelta(hours=23, minutes=59))
    )
    soon = make_legal_request(due_at=midnight + timedelta(days=1, hours=12))
    later = make_legal_request(due_at=now + timedelta(days=6))
    paused = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now + timedelta(days=3),
        paused_since=now - timedelta(hours=4),
    )
    closed = make_legal_request(status=S.CLOSED, due_at=now - timedelta(days=30))

    response = reviewer_client.get(QUEUE, {"status": "all"})

    assert "Overdue" in row_of(response, overdue.reference)
    # The Due column says how far away the deadline is, in the viewer's language.
    assert '<span class="relative">(2 hr ago)</span>' in row_of(response, overdue.reference)
    if today.due_at > now:
        assert "Due today" in row_of(response, today.reference)
    assert "Due within 48 hours" in row_of(response, soon.reference)
    assert "Paused: awaiting clarification" in row_of(response, paused.reference)
    # Frozen while paused: the deadline moves on with the pause.
    paused_row = row_of(response, paused.reference)
    assert re.search(r'<span class="relative">\(in 3 days (4 hr|3 hr)\)</span>', paused_row)
    for quiet in (later, closed):
        row = row_of(response, quiet.reference)
        assert 'class="clock clock-' not in row
    # Not by colour alone: each badge is a word, with a symbol hidden from screen readers.
    assert '<span class="clock clock-overdue"><span aria-hidden="true">⚠ </span>Overdue' in (
        row_of(response, overdue.reference)
    )


# --- Counts --------------------------------------------------------------------------------


def test_the_counts_per_state_come_from_one_query_and_every_count_stops_at_the_cap(
    reviewer, monkeypatch
):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    now = timezone.now()
    for status, number in [
        (S.RECEIVED, 3),
        (S.IN_REVIEW, 1),
        (S.AWAITING_CLARIFICATION, 1),
        (S.CLOSED, 4),
        (S.REJECTED, 2),
    ]:
        for _ in range(number):
            make_legal_request(status=status, audited=False)
    make_legal_request(due_at=now - timedelta(hours=1), audited=False)
    make_legal_request(
        status=S.AWAITING_CLARIFICATION, due_at=now - timedelta(hours=1), audited=False
    )
    # Approved but not handed over by its deadline: overdue work (clocks.overdue_q).
    make_legal_request(status=S.APPROVED, due_at=now - timedelta(hours=1), audited=False)

    with CaptureQueriesContext(connection) as queries:
        counts, overdue, overdue_capped = selectors._state_counts_capped(now)

    # One statement for the states, one for the overdue (a subquery per branch of the
    # rule); each count reads at most COUNT_CAP + 1 rows (a LIMIT in every subquery),
    # whatever the size of the table.
    assert len(queries) == 2
    states_sql, overdue_sql = (q["sql"] for q in queries.captured_queries)
    assert states_sql.count("LIMIT") == len(counts) == 8
    # (The approved preservation's expiry is read by a LIMIT 1 subquery of its own.)
    assert overdue_sql.count(f"LIMIT {selectors.COUNT_CAP + 1}") == 4
    by_state = {c.status: (c.count, c.capped) for c in counts}
    assert by_state == {
        S.RECEIVED: (2, True),
        S.IN_REVIEW: (1, False),
        S.AWAITING_CLARIFICATION: (2, False),
        S.APPROVED: (1, False),
        S.REJECTED: (2, False),
        S.DISCLOSED: (0, False),
        S.CLOSED: (2, True),
        S.WITHDRAWN: (0, False),
    }
    assert (overdue, overdue_capped) == (2, False)
    make_legal_request(due_at=now - timedelta(hours=2), audited=False)
    assert selectors._state_counts_capped(now)[1:] == (2, True)


def test_on_postgresql_the_states_count_is_planned_once_and_the_overdue_at_each_moment(
    postgres, reviewer
):
    """The states' statement has no parameters and is prepared: PostgreSQL keeps one plan
    for it per connection (planning it was a third of its time at 1M rows). The overdue
    statement is not prepared: a plan made once for any moment would read every
    overdue-looking row (84 ms at 1M rows, bench/README.md)."""
    now = timezone.now()
    make_legal_request(status=S.RECEIVED, audited=False)
    for _ in range(7):  # past PostgreSQL's five custom plans, which it makes before choosing
        counts, _, _ = selectors._state_counts_capped(now)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, parameter_types, generic_plans FROM pg_prepared_statements"
        )
        prepared = cursor.fetchall()
    sql = selectors._states_sql(
        (*selectors.WORKING_STATES, *selectors.ARCHIVE_STATES), selectors.COUNT_CAP + 1
    )
    states = [row for row in prepared if row[0] == sql]
    assert len(states) == 1, prepared
    statement, parameter_types, generic_plans = states[0]
    assert statement.count("LIMIT") == 8
    assert parameter_types == []
    assert generic_plans >= 1
    assert not any("AS branch" in row[0] for row in prepared), prepared
    # Prepared, it still counts the rows as they are now.
    assert {c.status: c.count for c in counts}[S.RECEIVED] == 1
    make_legal_request(status=S.RECEIVED, audited=False)
    counts, _, _ = selectors._state_counts_capped(now)
    assert {c.status: c.count for c in counts}[S.RECEIVED] == 2


def test_the_states_count_takes_only_the_codes_state_names_into_its_sql():
    assert "'received'" in selectors._states_sql(("received",), 1001)
    for state in ("received' OR 'a'='a", "Received", "", "x" * 41):
        with pytest.raises(ValueError, match="constants of the code"):
            selectors._states_sql((state,), 1001)
    with pytest.raises(ValueError, match="constants of the code"):
        selectors._states_sql(("received",), "1001; DROP TABLE x")


def test_the_overdue_branches_that_need_an_index_of_their_own_are_its_condition():
    """PostgreSQL reads a partial index for a query only when the query's conditions imply
    the index's: the paused branch of the overdue count is exactly ``lr_overdue_paused``'s
    condition (a change to either would send the count back to reading every paused
    request and its review row), and the approved preservations' branch lies within
    ``lr_approved_preservation``."""
    from requests_app.lifecycle.clocks import overdue_q_by_state

    indexes = {index.name: index for index in LegalRequest._meta.indexes}
    _, paused, _, approved_lapsed = overdue_q_by_state(timezone.now())
    assert paused == indexes["lr_overdue_paused"].condition

    def required(q) -> set:
        """The conditions a Q requires of every row it matches (its ANDed leaves)."""
        if q.connector != "AND" or q.negated:
            return set()
        return set().union(
            *(required(child) if hasattr(child, "children") else {child} for child in q.children)
        )

    condition = indexes["lr_approved_preservation"].condition
    assert required(condition) == {("status", S.APPROVED), ("kind", "preservation")}
    assert required(condition) <= required(approved_lapsed)
    assert indexes["lr_approved_preservation"].fields == ["due_at"]
    assert any(name == "due_at__gte" for name, _ in required(approved_lapsed))


def test_the_overdue_count_statement_compiled_once_is_the_one_compiled_at_each_moment():
    """The capped overdue count is compiled once per process (its parameters ``now`` plus
    an offset, or constants) and must send what compiling it afresh would, at any time.
    (SQLite is sent a moment as text, which is not compiled: it is built afresh there.)"""
    from datetime import UTC, datetime

    from portal import compiled

    cap = selectors.COUNT_CAP + 1
    selectors._overdue_statement(timezone.now(), cap)
    statements = [v for k, v in compiled._compiled.items() if k[0] == ("review.overdue_count", cap)]
    assert len(statements) == 1
    if connection.vendor == "postgresql":
        assert statements[0] is not None
        assert any(isinstance(slot, compiled._Since) for slot in statements[0].slots)
    else:
        assert statements[0] is None
    for now in (
        timezone.now(),
        datetime(2027, 3, 28, 1, 30, 0, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    ):
        assert selectors._overdue_statement(now, cap) == selectors._overdue_sql(now, cap)


@pytest.mark.parametrize("due", ["overdue", "today", "48h", "7d"])
def test_the_due_filters_read_only_the_requests_own_row(due):
    """The due filters (and the overdue rule in them) are a condition on the request's own
    row, the review row's expiry read by a subquery: joined, the rule became a filter of
    the join, which PostgreSQL can neither prove within the queue's partial index nor
    estimate, and at 1M requests the "due within 48 hours" page sorted every open
    request (0.9 s) instead of walking ``lr_queue_open`` in order (1 ms)."""
    from requests_app.lifecycle.clocks import overdue_q

    now = timezone.now()
    reviewer = make_reviewer()
    table = LegalRequest._meta.db_table
    assert list(LegalRequest.objects.filter(overdue_q(now)).query.alias_map) == [table]
    # (The page's select_related joins come with compiling, after the filters'.)
    rows = selectors._filtered(user=reviewer, filters=QueueFilters(due=due), now=now)
    assert list(rows.query.alias_map) == [table]


def test_the_migration_flags_the_requests_already_paused_after_their_deadline():
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "requests_app.migrations.0017_paused_late_and_overdue_indexes"
    )
    now = timezone.now()
    late = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now - timedelta(hours=5),
        paused_since=now - timedelta(hours=1),
        audited=False,
    )
    in_time = make_legal_request(
        status=S.AWAITING_CLARIFICATION,
        due_at=now - timedelta(hours=1),
        paused_since=now - timedelta(hours=5),
        audited=False,
    )
    answered = make_legal_request(
        status=S.IN_REVIEW,
        due_at=now - timedelta(hours=5),
        paused_since=now - timedelta(hours=1),
        audited=False,
    )
    LegalRequest.objects.update(paused_late=False)

    migration.paused_late_backfill(apps, None)

    flags = dict(LegalRequest.objects.values_list("pk", "paused_late"))
    # Paused after the deadline and still waiting; not paused in time, nor answered.
    assert (flags[late.pk], flags[in_time.pk], flags[answered.pk]) == (True, False, False)


def test_the_counts_equal_the_raw_counts_after_a_sequence_of_changes(reviewer):
    from collections import Counter

    from requests_app.lifecycle.clocks import overdue_q
    from requests_app.review.services import clarification_ask, request_claim, request_withdraw

    now = timezone.now()
    requests = [make_legal_request(audited=False) for _ in range(6)]
    requests += [
        make_legal_request(status=S.APPROVED, due_at=now - timedelta(hours=3), audited=False),
        make_legal_request(status=S.REJECTED, audited=False),
        make_legal_request(status=S.DISCLOSED, audited=False),
    ]

    def shown() -> tuple[dict[str, int], int]:
        counts, overdue, capped = selectors._state_counts_capped(now)
        assert not capped
        assert not any(c.capped for c in counts)
        return {c.status: c.count for c in counts if c.count}, overdue

    def expected() -> tuple[dict[str, int], int]:
        by_state = Counter(LegalRequest.objects.values_list("status", flat=True))
        return dict(by_state), LegalRequest.objects.filter(overdue_q(now)).count()

    assert shown() == expected()
    request_claim(request=requests[0], reviewer=reviewer)  # received -> in review
    request_claim(request=requests[1], reviewer=reviewer)
    assert shown() == expected()
    clarification_ask(request=requests[1], reviewer=reviewer, body="Which account?")
    request_withdraw(request=requests[2], officer=requests[2].officer, reason="Solved")
    assert shown() == expected()
    # Deadlines pass: the overdue count follows the rows, nothing to keep in step.
    LegalRequest.objects.filter(pk__in=[requests[3].pk, requests[4].pk]).update(
        due_at=now - timedelta(hours=1)
    )
    make_legal_request(status=S.CLOSED, audited=False)
    assert shown() == expected()
    assert expected()[0] == {
        S.RECEIVED: 3,
        S.IN_REVIEW: 1,
        S.AWAITING_CLARIFICATION: 1,
        S.WITHDRAWN: 1,
        S.APPROVED: 1,
        S.REJECTED: 1,
        S.DISCLOSED: 1,
        S.CLOSED: 1,
    }
    assert expected()[1] == 3


def test_a_count_that_stopped_at_the_cap_is_shown_as_more_than_the_cap(
    reviewer_client, monkeypatch
):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    now = timezone.now()
    for _ in range(3):
        make_legal_request(status=S.IN_REVIEW, due_at=now - timedelta(hours=1), audited=False)
    for _ in range(2):
        make_legal_request(status=S.CLOSED, audited=False)

    page = reviewer_client.get(QUEUE).content.decode()

    hidden = '<span class="visually-hidden">more than </span>'
    assert re.search(
        rf'status=in_review[^"]*">In review <span class="count">{hidden}2\+</span>', page
    )
    # Exactly the cap is not "more than" it.
    assert re.search(r'status=closed[^"]*">Closed <span class="count">2</span>', page)
    assert f'<span class="count count-overdue">{hidden}2+</span>' in page


def test_the_page_shows_the_counts_as_links_to_each_state(reviewer_client):
    make_legal_request(status=S.IN_REVIEW)
    make_legal_request(status=S.IN_REVIEW)

    page = reviewer_client.get(QUEUE, {"kind": "subscriber_data"}).content.decode()

    assert re.search(r'status=in_review[^"]*">In review <span class="count">2</span>', page)
    # The link keeps the other filters.
    assert re.search(r'href="\?kind=subscriber_data&amp;status=in_review"', page)


# --- Pages ---------------------------------------------------------------------------------


def all_pages(user, filters: QueueFilters, page_size: int) -> list[list[str]]:
    pages, cursor = [], ""
    while True:
        page = request_queue(user=user, filters=filters, cursor=cursor, page_size=page_size)
        pages.append([row.request.reference for row in page.rows])
        cursor = page.next_cursor
        if not cursor:
            return pages


def python_order(order: str, requests: list[LegalRequest]) -> list[str]:
    if order == "received":
        key = sorted(requests, key=lambda r: (r.received_at, r.pk), reverse=True)
    else:
        group = {"urgency": lambda r: (), "status": lambda r: (r.status,)}.get(
            order,
            lambda r: (r.country.code,) if order == "country" else (r.kind,),
        )
        key = sorted(requests, key=lambda r: (*group(r), not r.emergency, r.due_at, r.pk))
    return [r.reference for r in key]


@pytest.mark.parametrize("order", list(QUEUE_ORDERS))
def test_pages_follow_the_sort_key_with_no_request_missed_or_repeated(reviewer, order):
    now = timezone.now()
    agencies = [make_agency(country=c) for c in ("DE", "FR", "AT")]
    officers = [make_officer(agency=a) for a in agencies]
    due = now + timedelta(days=2)  # several requests share a due date: the id breaks ties
    made = []
    for i in range(17):
        made.append(
            make_legal_request(
                officer=officers[i % 3],
                kind=("emergency", "preservation", "court_order")[i % 3 if i % 4 else 0],
                status=(S.RECEIVED, S.IN_REVIEW, S.APPROVED)[i % 3],
                due_at=due if i % 5 == 0 else now + timedelta(hours=i * 7 - 20),
                received_at=now - timedelta(hours=i % 6),
                audited=False,
            )
        )
    made = list(LegalRequest.objects.filter(pk__in=[r.pk for r in made]))

    pages = all_pages(reviewer, QueueFilters(order=order), page_size=4)

    assert [len(p) for p in pages] == [4, 4, 4, 4, 1]
    assert [ref for page in pages for ref in page] == python_order(order, made)


def test_a_later_page_is_reached_by_its_next_link_and_shows_the_way_back(reviewer_client):
    now = timezone.now()
    made = [make_legal_request(due_at=now + timedelta(hours=i), audited=False) for i in range(53)]

    first = reviewer_client.get(QUEUE)
    next_link = r'<a href="(\?[^"]*after=[^"]+)" rel="next">Next page</a>'
    link = re.search(next_link, first.content.decode())
    second = reviewer_client.get(QUEUE + link.group(1).replace("&amp;", "&"))

    assert references(first) == [r.reference for r in made[:50]]
    assert references(second) == [r.reference for r in made[50:]]
    assert "Back to the first page" in second.content.decode()
    assert 'rel="next"' not in second.content.decode()


@pytest.mark.parametrize(
    "cursor", ["garbage", "W10", "WyJ1cmdlbmN5IiwxLDIsM10", "eyJhIjoxfQ", "x" * 500]
)
def test_a_cursor_that_is_not_one_of_ours_shows_the_first_page(reviewer_client, cursor):
    made = make_legal_request()

    response = reviewer_client.get(QUEUE, {"after": cursor})

    assert response.status_code == 200
    assert references(response) == [made.reference]


def test_a_page_takes_a_fixed_number_of_queries_however_many_requests_there_are(
    reviewer_client, reviewer, django_assert_max_num_queries
):
    colleague = make_reviewer()

    def fill(number: int) -> None:
        for i in range(number):
            make_legal_request(
                kind="emergency" if i % 7 == 0 else "subscriber_data",
                assignee=(reviewer, colleague, None)[i % 3],
                status=(S.RECEIVED, S.IN_REVIEW, S.AWAITING_CLARIFICATION)[i % 3],
                paused_since=timezone.now() if i % 3 == 2 else None,
                audited=False,
            )

    fill(5)
    with CaptureQueriesContext(connection) as few:
        reviewer_client.get(QUEUE, {"sort": "status"})
    fill(70)
    with django_assert_max_num_queries(len(few)):
        response = reviewer_client.get(QUEUE, {"sort": "status"})
    cursor = re.search(r'after=([^"&]+)" rel="next"', response.content.decode()).group(1)
    with django_assert_max_num_queries(13):
        reviewer_client.get(QUEUE, {"sort": "status", "after": cursor, "assignee": "mine"})
    with django_assert_max_num_queries(13):
        reviewer_client.get(QUEUE, {"assignee": "unassigned", "due": "7d"})


# --- Claim ---------------------------------------------------------------------------------


def test_each_open_row_has_a_claim_button_that_takes_the_request(reviewer_client, reviewer):
    colleague = make_reviewer()
    new = make_legal_request()
    theirs = make_legal_request(status=S.IN_REVIEW, assignee=colleague)
    mine = make_legal_request(status=S.IN_REVIEW, assignee=reviewer)
    approved = make_legal_request(status=S.APPROVED, assignee=colleague)

    response = reviewer_client.get(QUEUE)
    claim_url = reverse("review-claim", args=[new.reference])

    assert f'action="{claim_url}"' in row_of(response, new.reference)
    assert "Take over" in row_of(response, theirs.reference)
    assert "<button" not in row_of(response, mine.reference)
    assert "<button" not in row_of(response, approved.reference)
    assert "You" in row_of(response, mine.reference)

    claimed = reviewer_client.post(claim_url)

    assert claimed.status_code == 302
    new.refresh_from_db()
    assert new.status == S.IN_REVIEW
    assert ReviewState.objects.get(request=new).assignee == reviewer
    assert references(reviewer_client.get(QUEUE, {"assignee": "mine"})) == sorted(
        [new.reference, mine.reference],
        key=lambda ref: LegalRequest.objects.get(reference=ref).due_at,
    )


# --- Who gets in ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["anonymous", "officer", "vetting admin", "password-only reviewer", "inactive"]
)
def test_the_queue_refuses_everyone_but_a_verified_reviewer_and_shows_nothing(client, who):
    officer = make_officer()
    secret = make_legal_request(officer=officer, case_reference="SECRET-CASE-4711")
    if who == "officer":
        log_in(client, officer.user)
    elif who == "vetting admin":
        log_in(client, make_user(role=Role.VETTING_ADMIN))
    elif who == "password-only reviewer":
        client.post("/login/", {"username": make_reviewer().email, "password": PASSWORD})
        assert "_auth_user_id" in client.session
    elif who == "inactive":
        reviewer = make_reviewer()
        log_in(client, reviewer)
        reviewer.is_active = False
        reviewer.save()

    response = client.get(QUEUE, {"status": "all"})

    if who in ("officer", "vetting admin"):
        assert response.status_code == 403
    elif who == "password-only reviewer":
        assert response.status_code == 302
        assert response["Location"].startswith("/login/verify/")
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    page = response.content.decode()
    assert secret.reference not in page
    assert "SECRET-CASE-4711" not in page
    assert "Review queue" not in page


def test_the_queue_selector_refuses_anyone_but_an_active_reviewer() -> None:
    from django.http import Http404

    make_legal_request()
    for user in (make_officer().user, make_user(role=Role.VETTING_ADMIN)):
        with pytest.raises(Http404):
            request_queue(user=user, filters=QueueFilters())


# --- Accessibility -------------------------------------------------------------------------


def test_the_queue_table_has_a_caption_column_scopes_and_every_filter_a_label(reviewer_client):
    make_legal_request()

    page = reviewer_client.get(QUEUE).content.decode()

    assert re.search(r"<caption>\s*Open work: most urgent first", page)
    assert page.count('<th scope="col">') >= 6
    assert '<th scope="row">' in page
    for name in ("status", "kind", "country", "agency", "due", "assignee", "sort"):
        assert f'<label for="id_{name}">' in page
        assert f'id="id_{name}"' in page
    assert '<nav aria-label="Requests by state"' in page
    for name in ("status", "sort"):  # their hints are read with them
        assert f'aria-describedby="id_{name}_helptext"' in page
        assert f'id="id_{name}_helptext"' in page
    assert '<span class="visually-hidden"> LR-' in page  # each claim button names its request


def test_closed_states_are_shown_newest_first_unless_another_order_is_asked(reviewer_client):
    now = timezone.now()
    old = make_legal_request(status=S.CLOSED, received_at=now - timedelta(days=40))
    new = make_legal_request(status=S.CLOSED, received_at=now - timedelta(days=2))
    old_emergency = make_legal_request(
        status=S.REJECTED, kind="emergency", received_at=now - timedelta(days=90)
    )

    newest = references(reviewer_client.get(QUEUE, {"status": "all"}))
    urgent = references(reviewer_client.get(QUEUE, {"status": "all", "sort": "urgency"}))

    assert newest == [new.reference, old.reference, old_emergency.reference]
    assert urgent[0] == old_emergency.reference


def test_the_filter_choices_are_escaped_and_keep_what_was_chosen(reviewer_client):
    agency = make_agency(name='Polizei <script>alert("x")</script> & Co')
    make_legal_request(agency=agency)

    page = reviewer_client.get(QUEUE, {"agency": agency.pk, "kind": "preservation"}).content
    page = page.decode()

    assert "<script>alert" not in page
    assert "Polizei &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co (DE)" in page
    assert f'<option value="{agency.pk}" selected>' in page
    assert '<option value="preservation" selected>' in page
    assert '<select name="agency" id="id_agency">' in page


# --- Times in the viewer's zone ------------------------------------------------------------


def test_the_due_column_names_the_viewers_zone_and_says_how_far_away_the_deadline_is(
    reviewer_client, reviewer
):
    due_at = timezone.now().replace(microsecond=0) + timedelta(hours=30, minutes=30)
    request = make_legal_request(due_at=due_at)
    reviewer.time_zone = "America/Sao_Paulo"  # the reviewer's own choice
    reviewer.save(update_fields=["time_zone"])

    response = reviewer_client.get(QUEUE)
    with timezone.override("America/Sao_Paulo"):
        shown = formats.date_format(timezone.localtime(due_at), "DATETIME_FORMAT")

    cell = row_of(response, request.reference).split('data-label="Due"', 1)[1]
    cell = cell.split("</td>", 1)[0]
    machine = due_at.isoformat().replace("+00:00", "Z")
    # São Paulo's local time and abbreviation for people, the UTC instant for machines.
    assert f'<time datetime="{machine}">{shown} -03</time>' in cell
    assert re.search(r'<span class="relative">\(in 1 day 6 hr( \d+ min)?\)</span>', cell), cell
