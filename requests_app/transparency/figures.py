"""The report's figures, counted by the database: a fixed handful of queries per period.

Every figure is an SQL aggregate (``COUNT``, ``COUNT(DISTINCT)``, a median); Python only
adds up the per-country rows into the world's, for the figures that add up. The two that
do not add up (distinct accounts, the median) are counted per country and over all in
one statement each. The SQL is the same on SQLite and PostgreSQL but for three small
expressions: seconds between two timestamps, "a JSON array holds this id", and the
median (PostgreSQL's ``percentile_cont``; elsewhere the middle rows picked by
``ROW_NUMBER`` and ``COUNT`` window functions). Definitions: docs/transparency.md.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, Q, QuerySet
from django.utils import timezone

from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest, RequestKind, RequestTarget
from requests_app.transparency import rollups
from requests_app.transparency.expressions import (
    CLOCK_RUNNING,
    JsonArrayHas,
    account_key,
    sealed_disclosure,
    seconds_to_answer,
)
from requests_app.transparency.periods import Period

__all__ = ["CLOCK_RUNNING", "Figures", "PeriodFigures", "period_figures", "scope_figures"]

# --- The figures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """One area's figures for one period (an area: a country, the world, a group)."""

    properly_formed: int = 0
    rejected_at_intake: int = 0
    with_data_disclosed: int = 0
    accounts_affected: int = 0
    emergency: int = 0
    preservation: int = 0
    answered: int = 0
    answered_within_deadline: int = 0
    unanswered_past_deadline: int = 0
    median_seconds_to_answer: float | None = None

    @property
    def received(self) -> int:
        return self.properly_formed + self.rejected_at_intake

    @property
    def deadline_due(self) -> int:
        """Requests whose deadline the platform has met or missed so far."""
        return self.answered + self.unanswered_past_deadline

    @property
    def within_deadline_percent(self) -> float | None:
        if not self.deadline_due:
            return None
        return round(100 * self.answered_within_deadline / self.deadline_due, 1)

    @property
    def median_hours_to_answer(self) -> float | None:
        if self.median_seconds_to_answer is None:
            return None
        return round(self.median_seconds_to_answer / 3600, 1)


# Figures that add up across areas; the distinct accounts and the median do not.
ADDITIVE = tuple(
    f.name
    for f in fields(Figures)
    if f.name not in ("accounts_affected", "median_seconds_to_answer")
)


def figures_sum(parts: Iterable[Figures]) -> Figures:
    """Add up the additive figures; the others stay empty for the caller to count."""
    totals = dict.fromkeys(ADDITIVE, 0)
    for part in parts:
        for name in ADDITIVE:
            totals[name] += getattr(part, name)
    return Figures(**totals)


@dataclass(frozen=True)
class PeriodFigures:
    """Everything counted for a period, before any suppression: for staff only."""

    period: Period
    as_of: datetime
    countries: dict[str, Figures]  # ISO code -> figures, every country with any count
    unattributed: Figures  # intake rejections whose sender was not recognised
    world: Figures


def _requests_in(period: Period, countries: list[str] | None = None) -> QuerySet[LegalRequest]:
    found = LegalRequest.objects.filter(received_at__gte=period.start, received_at__lt=period.end)
    return found if countries is None else found.filter(country__in=countries)


def _disclosed_targets(period: Period, countries: list[str] | None) -> QuerySet[RequestTarget]:
    """Targets that a sealed disclosure's approved scope named.

    Written as joins from the period's requests (one ``filter`` call, so the disclosure
    and its decision are the same row): PostgreSQL then starts from the period's requests
    instead of every disclosed target ever, which a correlated ``EXISTS`` led it to do.
    """
    found = RequestTarget.objects.filter(
        JsonArrayHas(F("request__disclosures__decision__approved_target_ids"), F("pk")),
        request__received_at__gte=period.start,
        request__received_at__lt=period.end,
        request__disclosures__state=Disclosure.State.SEALED,
    )
    return found if countries is None else found.filter(request__country__in=countries)


# The key of the row over every selected row (country codes have two letters); the SQL
# templates below write it as '*'.
ALL = "*"

# The median of ``item`` per ``country`` and over all rows, from the middle row(s) of
# each ordered group: ROW_NUMBER and COUNT window functions, which SQLite has too.
_MEDIAN_BY_WINDOW = """
WITH selected AS MATERIALIZED ({rows}),
ranked AS (
    SELECT country, item,
        ROW_NUMBER() OVER (PARTITION BY country ORDER BY item) AS position,
        COUNT(*) OVER (PARTITION BY country) AS size
    FROM selected
    UNION ALL
    SELECT '*', item, ROW_NUMBER() OVER (ORDER BY item), COUNT(*) OVER () FROM selected
)
SELECT country, AVG(item) FROM ranked
WHERE position IN ((size + 1) / 2, (size + 2) / 2)
GROUP BY country
"""
# The same with PostgreSQL's own ordered-set aggregate.
_MEDIAN_POSTGRESQL = """
WITH selected AS MATERIALIZED ({rows})
SELECT country, percentile_cont(0.5) WITHIN GROUP (ORDER BY item) FROM selected
GROUP BY country
UNION ALL
SELECT '*', percentile_cont(0.5) WITHIN GROUP (ORDER BY item) FROM selected
"""
# Distinct items per country and over all rows (an account counts once in the world
# even when two countries named it). SELECT DISTINCT, which PostgreSQL can hash, rather
# than COUNT(DISTINCT), which it always sorts.
_DISTINCT = """
WITH selected AS MATERIALIZED ({rows})
SELECT country, COUNT(*) FROM (SELECT DISTINCT country, item FROM selected) pairs
GROUP BY country
UNION ALL
SELECT '*', COUNT(*) FROM (SELECT DISTINCT item FROM selected) items
"""


def _per_country_and_all(template: str, rows: QuerySet[Any]) -> dict[str, Any]:
    """Aggregate ``rows`` (columns ``country`` and ``item``) per country and over all.

    The rows are selected once (a materialized CTE) and aggregated twice, in one
    statement: half the work of a second query for the world's figure. Returns country
    code (or ``ALL``) -> the aggregate; ``ALL`` is there even when no row was selected.
    """
    inner, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(template.format(rows=inner), params)
        return {str(key): value for key, value in cursor.fetchall()}


def _medians(period: Period, countries: list[str] | None) -> dict[str, float | None]:
    """Median seconds to answer, per country and over all, of the requests answered."""
    rows = (
        _requests_in(period, countries)
        .filter(review__decided_at__isnull=False)
        .values("country", item=seconds_to_answer())
        .order_by()  # the model's ordering would sort rows that are aggregated anyway
    )
    template = _MEDIAN_POSTGRESQL if connection.vendor == "postgresql" else _MEDIAN_BY_WINDOW
    found = _per_country_and_all(template, rows)
    return {key: None if value is None else float(value) for key, value in found.items()}


def _accounts(period: Period, countries: list[str] | None) -> dict[str, int]:
    """Distinct accounts disclosed, per country and over all.

    An account is a target's type and value, the value compared without regard to case;
    the same account named twice (in two requests, or twice in one) counts once.
    """
    rows = (
        _disclosed_targets(period, countries)
        .values(country=F("request__country"), item=account_key())
        .order_by()
    )
    return {key: int(value or 0) for key, value in _per_country_and_all(_DISTINCT, rows).items()}


def scope_figures_raw(*, period: Period, countries: list[str] | None) -> tuple[int, float | None]:
    """``scope_figures`` from the requests themselves: the reference implementation."""
    return _accounts(period, countries).get(ALL, 0), _medians(period, countries).get(ALL)


def scope_figures(*, period: Period, countries: list[str] | None) -> tuple[int, float | None]:
    """The two figures that do not add up, over several countries (``None``: all).

    Returns (accounts affected, median seconds to answer). From the rollups (folded
    first) when the period is whole months and countries are named, else from the
    requests.
    """
    if countries is not None and rollups.months_of(period) is not None:
        rollups.fold()
        return rollups.scope_figures(period=period, countries=countries)
    return scope_figures_raw(period=period, countries=countries)


def period_figures(*, period: Period, as_of: datetime | None = None) -> PeriodFigures:
    """Count every figure of a period, per country and for the world (never cached here).

    A period of whole months (every quarter and year, the public report's periods) is
    counted from the rollups, after folding whatever changed since the last fold, so a
    change is in the next read: O(months x countries) rows instead of every request of
    the period. Any other range is counted from the requests (``period_figures_raw``).
    """
    as_of = as_of or timezone.now()
    if rollups.months_of(period) is None:
        return period_figures_raw(period=period, as_of=as_of)
    rollups.fold()
    found = rollups.period_rows(period=period, as_of=as_of)
    return _assemble(period, as_of, found.rows, found.unattributed, found.accounts, found.median)


def _assemble(
    period: Period,
    as_of: datetime,
    rows: dict[str, dict[str, Any]],
    unattributed: int,
    accounts_all: int,
    median_all: float | None,
) -> PeriodFigures:
    countries = {code: Figures(**values) for code, values in sorted(rows.items())}
    unattributed_figures = Figures(rejected_at_intake=unattributed)
    world = replace(
        figures_sum([*countries.values(), unattributed_figures]),
        accounts_affected=accounts_all,
        median_seconds_to_answer=median_all,
    )
    return PeriodFigures(
        period=period,
        as_of=as_of,
        countries=countries,
        unattributed=unattributed_figures,
        world=world,
    )


def period_figures_raw(*, period: Period, as_of: datetime | None = None) -> PeriodFigures:
    """Every figure of a period counted from the requests themselves.

    The reference implementation: what the rollups must equal (tests check it), and
    what ranges that are not whole months are counted with.

    Five statements whatever the number of countries: the request counts, the requests
    with data disclosed, the intake rejections, the medians and the distinct accounts
    (the last two per country and for the world at once).
    """
    as_of = as_of or timezone.now()
    rows: dict[str, dict[str, Any]] = {}
    counted = (
        _requests_in(period)
        .values("country")
        .order_by()
        .annotate(
            properly_formed=Count("pk"),
            emergency=Count("pk", filter=Q(emergency=True)),
            preservation=Count("pk", filter=Q(kind=RequestKind.PRESERVATION)),
            answered=Count("pk", filter=Q(review__decided_at__isnull=False)),
            answered_within_deadline=Count("pk", filter=Q(review__decided_at__lte=F("due_at"))),
            unanswered_past_deadline=Count(
                "pk", filter=Q(status__in=CLOCK_RUNNING, due_at__lt=as_of)
            ),
        )
    )
    for row in counted:
        values: dict[str, Any] = dict(row)
        rows[str(values.pop("country"))] = values

    def row_of(code: str) -> dict[str, Any]:
        return rows.setdefault(code, {})

    disclosed = (
        _requests_in(period)
        .filter(Exists(sealed_disclosure()))
        .values("country")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for disclosed_row in disclosed:
        row_of(disclosed_row["country"])["with_data_disclosed"] = disclosed_row["n"]

    unattributed = 0
    rejections = (
        IntakeRejection.objects.filter(at__gte=period.start, at__lt=period.end)
        .values("agency__country")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for rejected in rejections:
        if rejected["agency__country"]:
            row_of(rejected["agency__country"])["rejected_at_intake"] = rejected["n"]
        else:
            unattributed += rejected["n"]

    medians = _medians(period, None)
    accounts = _accounts(period, None)
    for code, median in medians.items():
        if code != ALL:
            row_of(code)["median_seconds_to_answer"] = median
    for code, count in accounts.items():
        if code != ALL:
            row_of(code)["accounts_affected"] = count

    return _assemble(period, as_of, rows, unattributed, accounts.get(ALL, 0), medians.get(ALL))
