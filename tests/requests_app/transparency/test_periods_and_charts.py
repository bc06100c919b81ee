"""Period keys and bounds, and the chart geometry the templates draw."""

from datetime import UTC, date, datetime

import pytest

from requests_app.transparency.charts import Series, bar_chart, column_chart, nice_ceiling
from requests_app.transparency.periods import Period, PeriodInvalid, period_parse, quarters_back


@pytest.mark.parametrize(
    ("key", "first", "last", "label"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "January to March 2026"),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31), "October to December 2024"),
        ("2024", date(2024, 1, 1), date(2024, 12, 31), "2024"),
        (
            "2026-02-01..2026-02-28",
            date(2026, 2, 1),
            date(2026, 2, 28),
            "Feb. 1, 2026 to Feb. 28, 2026",  # Django's DATE_FORMAT in English
        ),
    ],
)
def test_a_period_key_names_its_days(key, first, last, label) -> None:
    period = period_parse(key)

    assert (period.first_day, period.last_day, period.label, period.key) == (
        first,
        last,
        label,
        key,
    )


@pytest.mark.parametrize(
    "key", ["2026-Q5", "26-Q1", "2026-02-30..2026-03-01", "2026-03-02..2026-03-01", "", "1999"]
)
def test_a_key_that_names_no_period_is_refused(key) -> None:
    with pytest.raises(PeriodInvalid):
        period_parse(key)


def test_a_period_runs_from_midnight_utc_to_the_midnight_after_its_last_day() -> None:
    period = Period.quarter(2026, 2)

    assert period.start == datetime(2026, 4, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 7, 1, tzinfo=UTC)
    assert not period.has_ended(datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    assert period.has_ended(datetime(2026, 7, 1, tzinfo=UTC))


def test_quarters_back_crosses_the_year() -> None:
    keys = [p.key for p in quarters_back(date(2026, 2, 10), 3)]

    assert keys == ["2026-Q1", "2025-Q4", "2025-Q3"]


@pytest.mark.parametrize(
    ("value", "top"), [(0, 4), (3, 4), (5, 8), (9, 20), (116, 200), (527, 600), (1001, 2000)]
)
def test_a_count_axis_ends_on_a_number_that_splits_in_four(value, top) -> None:
    assert nice_ceiling(value) == top


def test_bars_are_proportional_to_their_values_and_stacked() -> None:
    series = [Series("a", "Properly formed", "series-1"), Series("b", "Rejected", "series-2")]
    chart = bar_chart([("Germany", [30, 10]), ("France", [20, 0])], series)

    germany, france = chart.rows
    assert [s.css for s in germany.segments] == ["series-1", "series-2"]
    assert germany.segments[1].x == pytest.approx(germany.segments[0].x + germany.segments[0].width)
    total_width = germany.segments[0].width + germany.segments[1].width
    assert total_width / france.segments[0].width == pytest.approx(40 / 20)
    assert germany.value_text == "40"
    assert (
        germany.segments[0].title == "Germany, Properly formed: 30"
    )  # the label as written: no .lower() (German nouns)


def test_a_column_not_published_says_so_instead_of_drawing_zero() -> None:
    series = [Series("a", "Properly formed", "series-1")]
    chart = column_chart([("Q1 2026", [12]), ("Q2 2026", [None])], series)

    assert chart.columns[1].segments == []
    assert chart.columns[1].value_text == "n/p"
    assert chart.columns[0].value_text == "12"
