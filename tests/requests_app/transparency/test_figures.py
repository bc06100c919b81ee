"""Every figure of a period against the values worked out by hand in ``fixture.py``.

Runs on SQLite and on PostgreSQL (CI): the median is computed differently on each (window
functions, ``percentile_cont``) and must agree with the hand-computed one on both.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from requests_app.transparency import rollups
from requests_app.transparency.figures import (
    Figures,
    period_figures,
    period_figures_raw,
    scope_figures,
)
from requests_app.transparency.periods import Period
from requests_app.transparency.report import public_document
from tests.factories import make_agency, make_officer
from tests.requests_app.factories import make_legal_request
from tests.requests_app.transparency.fixture import AS_OF, HOUR, PERIOD

pytestmark = pytest.mark.django_db

DE = Figures(
    properly_formed=9,
    rejected_at_intake=2,
    with_data_disclosed=3,
    accounts_affected=3,
    emergency=1,
    preservation=1,
    answered=5,
    answered_within_deadline=4,
    unanswered_past_deadline=1,
    median_seconds_to_answer=48 * HOUR,
)
FR = Figures(
    properly_formed=4,
    rejected_at_intake=0,
    with_data_disclosed=2,
    accounts_affected=2,
    emergency=0,
    preservation=0,
    answered=4,
    answered_within_deadline=3,
    unanswered_past_deadline=0,
    median_seconds_to_answer=144 * HOUR,
)
LU = Figures(
    properly_formed=2,
    rejected_at_intake=1,
    with_data_disclosed=1,
    accounts_affected=1,
    emergency=0,
    preservation=1,
    answered=1,
    answered_within_deadline=1,
    unanswered_past_deadline=1,
    median_seconds_to_answer=24 * HOUR,
)
IT = Figures(rejected_at_intake=2)
WORLD = Figures(
    properly_formed=15,
    rejected_at_intake=8,
    with_data_disclosed=6,
    accounts_affected=5,
    emergency=1,
    preservation=2,
    answered=10,
    answered_within_deadline=8,
    unanswered_past_deadline=2,
    median_seconds_to_answer=48 * HOUR,
)


def test_each_country_figures_match_the_hand_computed_values(quarter) -> None:
    figures = period_figures(period=PERIOD, as_of=AS_OF)

    assert figures.countries == {"DE": DE, "FR": FR, "IT": IT, "LU": LU}
    assert figures.unattributed == Figures(rejected_at_intake=3)


def test_world_figures_count_an_account_named_by_two_countries_once(quarter) -> None:
    world = period_figures(period=PERIOD, as_of=AS_OF).world

    assert world == WORLD
    assert world.received == 23
    assert world.deadline_due == 12
    assert world.within_deadline_percent == 66.7
    assert world.median_hours_to_answer == 48.0
    # Germany's and France's distinct accounts add up to 6, but Alice is one account.
    assert DE.accounts_affected + FR.accounts_affected + LU.accounts_affected == 6


def test_median_of_an_even_number_of_answers_is_the_mean_of_the_two_middle_ones(quarter) -> None:
    figures = period_figures(period=PERIOD, as_of=AS_OF)

    assert figures.countries["FR"].median_hours_to_answer == 144.0
    assert scope_figures(period=PERIOD, countries=["FR", "LU"]) == (3, 48 * HOUR)


def test_clarification_pauses_do_not_count_as_time_to_answer(quarter) -> None:
    # d4 alone: 12 days from receipt to decision, 3 of them waiting for the authority.
    day = quarter.requests["d4"].received_at.date()
    only_d4 = Period.custom(day, day)
    figures = period_figures(period=only_d4, as_of=AS_OF).countries["DE"]

    assert figures.answered == 1
    assert figures.median_hours_to_answer == 216.0


def test_a_request_still_unanswered_counts_against_the_deadline_only_once_it_passed(
    quarter,
) -> None:
    before_d5_was_due = period_figures(period=PERIOD, as_of=quarter.requests["d5"].due_at)

    assert before_d5_was_due.countries["DE"].unanswered_past_deadline == 0
    assert before_d5_was_due.countries["LU"].unanswered_past_deadline == 1


def test_the_period_boundaries_are_midnight_utc(quarter) -> None:
    first_day = Period.custom(PERIOD.first_day, PERIOD.first_day)
    figures = period_figures(period=first_day, as_of=AS_OF)

    assert figures.countries["DE"].properly_formed == 1  # d1 at 00:00:00, not "early"
    assert figures.countries["DE"].rejected_at_intake == 1
    assert figures.unattributed.rejected_at_intake == 0


def test_figures_take_a_fixed_number_of_queries_whatever_the_number_of_countries(
    quarter,
) -> None:
    rollups.fold()
    with CaptureQueriesContext(connection) as before:
        period_figures(period=PERIOD, as_of=AS_OF)
    with CaptureQueriesContext(connection) as raw_before:
        period_figures_raw(period=PERIOD, as_of=AS_OF)
    make_legal_request(
        officer=make_officer(agency=make_agency(country="JP")),
        received_at=quarter.requests["d1"].received_at,
        audited=False,
    )
    rollups.fold()
    with CaptureQueriesContext(connection) as after:
        figures = period_figures(period=PERIOD, as_of=AS_OF)
    with CaptureQueriesContext(connection) as raw_after:
        raw = period_figures_raw(period=PERIOD, as_of=AS_OF)

    assert "JP" in figures.countries
    assert figures == raw
    assert len(before) == len(after)
    assert len(raw_before) == len(raw_after) == 5


def test_the_public_document_names_only_countries_with_three_requests_or_more(quarter) -> None:
    document = public_document(period_figures(period=PERIOD, as_of=AS_OF))

    assert [row["country"] for row in document["countries"]] == ["DE", "FR"]
    assert document["countries"][0] == {
        "country": "DE",
        "name": "Germany",
        "received": 11,
        "properly_formed": 9,
        "rejected_at_intake": 2,
        "with_data_disclosed": 3,
        "accounts_affected": 3,
        "emergency": 1,
        "preservation": 1,
        "answered": 5,
        "answered_within_deadline": 4,
        "unanswered_past_deadline": 1,
        "within_deadline_percent": 66.7,
        "median_hours_to_answer": 48.0,
    }
    assert document["countries"][1]["within_deadline_percent"] == 75.0
    assert document["countries"][1]["median_hours_to_answer"] == 144.0
    # Luxembourg (2 requests) and Italy (rejections only) are counted together, unnamed;
    # with one answer behind it, the group's median and deadline share are withheld.
    assert document["other_countries"] == {
        "countries": 2,
        "received": 5,
        "properly_formed": 2,
        "rejected_at_intake": 3,
        "with_data_disclosed": 1,
        "accounts_affected": 1,
        "emergency": 0,
        "preservation": 1,
        "answered": 1,
        "answered_within_deadline": 1,
        "unanswered_past_deadline": 1,
        "within_deadline_percent": None,
        "median_hours_to_answer": None,
    }
    assert document["unattributed"]["received"] == 3
    assert document["world"]["received"] == 23
    assert document["world"]["accounts_affected"] == 5
    assert document["world"]["within_deadline_percent"] == 66.7
    assert document["world"]["median_hours_to_answer"] == 48.0


def test_the_areas_of_the_public_document_add_up_to_the_world(quarter) -> None:
    document = public_document(period_figures(period=PERIOD, as_of=AS_OF))
    parts = [*document["countries"], document["other_countries"], document["unattributed"]]

    for key in ("received", "properly_formed", "rejected_at_intake", "with_data_disclosed"):
        assert sum(part[key] for part in parts) == document["world"][key], key


def test_the_public_document_holds_no_case_reference_name_or_target(quarter) -> None:
    document = public_document(period_figures(period=PERIOD, as_of=AS_OF))
    text = repr(document).lower()

    for request in quarter.requests.values():
        assert request.reference.lower() not in text
        assert request.case_reference.lower() not in text
        for target in request.targets.all():
            assert target.value.lower() not in text
    for agency in quarter.agencies.values():
        assert agency.name.lower() not in text
    assert "r1" not in text
    assert "luxembourg" not in text
    assert "italy" not in text


def test_an_empty_period_has_zero_figures_and_no_median() -> None:
    figures = period_figures(period=PERIOD, as_of=AS_OF)

    assert figures.countries == {}
    assert figures.world == Figures()
    assert figures.world.within_deadline_percent is None
    document = public_document(figures)
    assert document["countries"] == []
    assert document["other_countries"] is None
    assert document["world"]["median_hours_to_answer"] is None
