"""Rollups of the report's figures, kept up to date as requests change.

Counting a year from the requests reads every request of the year (and its review,
targets, decisions and disclosures): seconds at a million requests. The rollups let a
period of whole months be counted from O(months x countries) rows instead:

- triggers (migration 0005) mark every request whose row or related rows change, and
  every month whose intake rejections change;
- ``fold`` (Celery beat, and every read before it counts) replaces the marked requests'
  *facts* (``RequestFact``: one narrow row per request, with what the report counts of
  it; ``AccountFact``: the accounts its sealed disclosures named) and recounts the
  monthly rows of the (month, country) cells they were in or are in now;
- a read adds up ``MonthlyCounts`` (the additive figures), ``MonthlyRejections``, the
  distinct accounts from ``AccountFirstSeen`` (an account counts in months m0..m1 once,
  in the first month of the range it was disclosed in: the month whose previous
  disclosure was before m0), and finds each median from ``MonthlyAnswerTimes``, a
  histogram in ``BUCKET_SECONDS`` steps, which says which bucket holds the middle
  answer(s): only that bucket's facts are read and ranked;
- "unanswered past the deadline" depends on the time it is asked at: it is counted
  from the facts of requests whose clock runs (a partial index; open work only).

The facts are computed with the same SQL expressions as the raw aggregate
(``figures.period_figures_raw``), which stays the reference: tests check that both give
the same figures after random changes, on SQLite and PostgreSQL.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, Q, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear

from accounts.models import Agency
from requests_app.delivery.models import Disclosure
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest, RequestKind, RequestTarget
from requests_app.transparency.expressions import (
    CLOCK_RUNNING,
    JsonArrayHas,
    account_key,
    sealed_disclosure,
    seconds_to_answer,
)
from requests_app.transparency.models import (
    AccountFact,
    AccountFirstSeen,
    MonthlyAnswerTimes,
    MonthlyCounts,
    MonthlyRejections,
    PendingRejectionMonth,
    PendingRequest,
    RequestFact,
)
from requests_app.transparency.periods import Period

# The width of a bucket of the answer-time histogram: coarse enough that a year's
# histogram stays small, fine enough that the bucket holding a median is a small share.
BUCKET_SECONDS = 6 * 3600
# Requests folded per step (each step is one transaction).
FOLD_BATCH = 20_000
# The world's scope in AccountFirstSeen (country codes have two letters).
WORLD = "*"
NO_PREVIOUS = -1
_LOCK_KEY = 0x7472_616E_7370  # pg_advisory_xact_lock key of the fold


def month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_start(month: int) -> datetime:
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


def months_of(period: Period) -> tuple[int, int] | None:
    """The first and last month of a period of whole months; None for any other range."""
    if period.first_day.day != 1 or (period.last_day + timedelta(days=1)).day != 1:
        return None
    return month_number(period.first_day), month_number(period.last_day)


def _chunks[T](items: Sequence[T], size: int = FOLD_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _table(model: Any) -> str:
    return str(model._meta.db_table)


def _listed(values: Sequence[Any], sql_type: str = "bigint") -> RawSQL:
    """The values as one parameter, for ``__in``: thousands of placeholders cost more to
    bind than the statement takes to run (an array on PostgreSQL, JSON on SQLite)."""
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{sql_type}[])", (list(values),))  # noqa: S611  (a fixed type name)
    return RawSQL("SELECT value FROM json_each(%s)", (json.dumps(list(values)),))  # noqa: S611  (a fixed statement; the values are one parameter)


# --- Folding ----------------------------------------------------------------------------------


def _month_of(column: str) -> Any:
    return ExtractYear(column, tzinfo=UTC) * 12 + ExtractMonth(column, tzinfo=UTC) - 1


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False))


FACT_COLUMNS = (
    "request_id",
    "month",
    "received_at",
    "country",
    "emergency",
    "preservation",
    "answered",
    "answered_within_deadline",
    "clock_running",
    "due_at",
    "disclosed",
    "seconds_to_answer",
    "bucket",
)


def _facts_sql(ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
    """INSERT of the facts of these requests, computed as the raw aggregate counts them."""
    seconds = seconds_to_answer()
    rows = (
        LegalRequest.objects.filter(pk__in=_listed(ids))
        .order_by()
        .values(
            f_request_id=F("pk"),
            f_month=_month_of("received_at"),
            f_received_at=F("received_at"),
            f_country=F("country"),
            f_emergency=_flag(Q(emergency=True)),
            f_preservation=_flag(Q(kind=RequestKind.PRESERVATION)),
            f_answered=_flag(Q(review__decided_at__isnull=False)),
            f_answered_within_deadline=_flag(Q(review__decided_at__lte=F("due_at"))),
            f_clock_running=_flag(Q(status__in=CLOCK_RUNNING)),
            f_due_at=F("due_at"),
            f_disclosed=Exists(sealed_disclosure()),
            f_seconds_to_answer=seconds,
            f_bucket=Cast(seconds_to_answer() / BUCKET_SECONDS, IntegerField()),
        )
    )
    inner, params = rows.query.sql_with_params()
    columns = ", ".join(FACT_COLUMNS)
    picked = ", ".join(f'q."f_{name}"' for name in FACT_COLUMNS)
    sql = f"INSERT INTO {_table(RequestFact)} ({columns}) SELECT {picked} FROM ({inner}) q"  # noqa: S608  (model table names; values are parameters)
    return sql, params


def _account_facts_sql(ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
    """INSERT of the accounts the sealed disclosures of these requests named."""
    rows = (
        RequestTarget.objects.filter(
            JsonArrayHas(F("request__disclosures__decision__approved_target_ids"), F("pk")),
            request__disclosures__state=Disclosure.State.SEALED,
            request_id__in=_listed(ids),
        )
        .order_by()
        .values(
            f_request_id=F("request_id"),
            f_month=_month_of("request__received_at"),
            f_country=F("request__country"),
            f_account=account_key(),
        )
    )
    inner, params = rows.query.sql_with_params()
    sql = (
        f"INSERT INTO {_table(AccountFact)} (request_id, month, country, account) "  # noqa: S608  (model table names; values are parameters)
        f'SELECT q."f_request_id", q."f_month", q."f_country", q."f_account" FROM ({inner}) q'
    )
    return sql, params


def _cells_recount(cells: set[tuple[int, str]]) -> None:
    """Count the monthly rows of these (month, country) cells again from the facts."""
    by_month: dict[int, list[str]] = defaultdict(list)
    for month, country in cells:
        by_month[month].append(country)
    facts = _table(RequestFact)
    with connection.cursor() as cursor:
        for month, countries in sorted(by_month.items()):
            for part in _chunks(sorted(countries)):
                marks = ", ".join(["%s"] * len(part))
                where = f"month = %s AND country IN ({marks})"
                params: list[Any] = [month, *part]
                for model in (MonthlyCounts, MonthlyAnswerTimes):
                    cursor.execute(f"DELETE FROM {_table(model)} WHERE {where}", params)  # noqa: S608  (model table names; values are parameters)
                cursor.execute(
                    f"INSERT INTO {_table(MonthlyCounts)} (month, country, properly_formed,"  # noqa: S608  (model table names; values are parameters)
                    " emergency, preservation, answered, answered_within_deadline,"
                    " with_data_disclosed)"
                    " SELECT month, country, COUNT(*),"
                    " SUM(CASE WHEN emergency THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN preservation THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN answered THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN answered_within_deadline THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN disclosed THEN 1 ELSE 0 END)"
                    f" FROM {facts} WHERE {where} GROUP BY month, country",
                    params,
                )
                cursor.execute(
                    f"INSERT INTO {_table(MonthlyAnswerTimes)} (month, country, bucket, answered)"  # noqa: S608  (model table names; values are parameters)
                    f" SELECT month, country, bucket, COUNT(*) FROM {facts}"
                    f" WHERE {where} AND bucket IS NOT NULL GROUP BY month, country, bucket",
                    params,
                )


def _account_cells(accounts: Sequence[str]) -> Counter[tuple[str, str, int]]:
    """(account, country, month) -> how many account facts, for these accounts."""
    found: Counter[tuple[str, str, int]] = Counter()
    for part in _chunks(accounts):
        rows = (
            AccountFact.objects.filter(account__in=_listed(part, "text"))
            .values_list("account", "country", "month")
            .order_by()
            .annotate(n=Count("pk"))
        )
        for account, country, month, n in rows:
            found[(account, country, month)] += n
    return found


def _facts_of(model: Any, ids: Sequence[int]) -> Counter[tuple[str, str, int]]:
    found: Counter[tuple[str, str, int]] = Counter()
    rows = (
        model.objects.filter(request_id__in=_listed(ids))
        .values_list("account", "country", "month")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for account, country, month, n in rows:
        found[(account, country, month)] += n
    return found


def _first_seen(cells: Iterable[tuple[str, str, int]]) -> Counter[tuple[str, int, int]]:
    """(scope, month, previous month) -> accounts, for these (account, country, month)."""
    months: dict[tuple[str, str], set[int]] = defaultdict(set)
    for account, country, month in cells:
        months[(account, country)].add(month)
        months[(account, WORLD)].add(month)
    found: Counter[tuple[str, int, int]] = Counter()
    for (_, scope), seen in months.items():
        previous = NO_PREVIOUS
        for month in sorted(seen):
            found[(scope, month, previous)] += 1
            previous = month
    return found


def _first_seen_add(delta: Counter[tuple[str, int, int]]) -> None:
    changes = [(scope, month, previous, n) for (scope, month, previous), n in delta.items() if n]
    if not changes:
        return
    table = _table(AccountFirstSeen)
    with connection.cursor() as cursor:
        for part in _chunks(changes, 500):
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(part))
            cursor.execute(
                f"INSERT INTO {table} (scope, month, previous, accounts) VALUES {rows}"  # noqa: S608  (model table names; values are parameters)
                " ON CONFLICT (scope, month, previous)"
                f" DO UPDATE SET accounts = {table}.accounts + excluded.accounts",
                [value for change in part for value in change],
            )
        cursor.execute(f"DELETE FROM {table} WHERE accounts = 0")  # noqa: S608  (model table names; values are parameters)


def _fold_requests(ids: Sequence[int]) -> None:
    """Replace these requests' facts and recount what they were and are part of."""
    facts = RequestFact.objects.filter(request_id__in=_listed(ids))
    cells = set(facts.values_list("month", "country").distinct())
    old_accounts = _facts_of(AccountFact, ids)
    facts.delete()
    AccountFact.objects.filter(request_id__in=_listed(ids)).delete()
    with connection.cursor() as cursor:
        cursor.execute(*_facts_sql(ids))
        cursor.execute(*_account_facts_sql(ids))
    cells |= set(
        RequestFact.objects.filter(request_id__in=_listed(ids))
        .values_list("month", "country")
        .distinct()
    )
    _cells_recount(cells)
    new_accounts = _facts_of(AccountFact, ids)
    touched = sorted({account for account, _, _ in (*old_accounts, *new_accounts)})
    if touched:
        after = _account_cells(touched)
        before = after.copy()
        before.subtract(new_accounts)
        before.update(old_accounts)
        delta = _first_seen([cell for cell, n in after.items() if n > 0])
        delta.subtract(_first_seen([cell for cell, n in before.items() if n > 0]))
        _first_seen_add(delta)


def _fold_rejection_months(months: Sequence[int]) -> None:
    MonthlyRejections.objects.filter(month__in=months).delete()
    rows = []
    for month in months:
        counted = (
            IntakeRejection.objects.filter(
                at__gte=month_start(month), at__lt=month_start(month + 1)
            )
            .values(sender=Coalesce("agency_id", 0))
            .order_by()
            .annotate(n=Count("pk"))
        )
        rows += [
            MonthlyRejections(month=month, agency_id=row["sender"], rejections=row["n"])
            for row in counted
        ]
    MonthlyRejections.objects.bulk_create(rows)


def _lock() -> None:
    """One fold at a time (SQLite: its write lock, taken at BEGIN, does it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _fold_step() -> int:
    """Fold one batch of marked requests or rejection months; how many were folded."""
    with transaction.atomic():
        _lock()
        ids = list(
            PendingRequest.objects.values_list("request_id", flat=True)
            .distinct()
            .order_by("request_id")[:FOLD_BATCH]
        )
        if ids:
            # The marks go first: a change committed after this DELETE keeps its mark
            # (it is folded again next time), and every change whose mark is deleted
            # here was committed before the facts below are read.
            PendingRequest.objects.filter(request_id__in=_listed(ids)).delete()
            _fold_requests(ids)
            return len(ids)
        months = sorted(set(PendingRejectionMonth.objects.values_list("month", flat=True)))
        if months:
            PendingRejectionMonth.objects.filter(month__in=months).delete()
            _fold_rejection_months(months)
        return len(months)


def fold() -> int:
    """Fold every change marked so far into the rollups; return how many were folded.

    Safe to run at any time and concurrently (one fold waits for the other). Reads call
    it first, so their figures include every change committed before them.
    """
    folded = 0
    # Most reads find nothing pending: two index probes, no transaction, no lock.
    while (PendingRequest.objects.exists() or PendingRejectionMonth.objects.exists()) and (
        step := _fold_step()
    ):
        folded += step
    return folded


def rebuild() -> int:
    """Drop every rollup and fold every request and rejection month again."""
    with transaction.atomic():
        _lock()
        for model in (
            RequestFact,
            AccountFact,
            MonthlyCounts,
            MonthlyAnswerTimes,
            AccountFirstSeen,
            MonthlyRejections,
        ):
            model.objects.all().delete()
        PendingRequest.objects.all().delete()
        PendingRejectionMonth.objects.all().delete()
        requests = _table(LegalRequest)
        rejections = _table(IntakeRejection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_table(PendingRequest)} (request_id) SELECT id FROM {requests}"  # noqa: S608  (model table names; values are parameters)
            )
            cursor.execute(f"SELECT MIN(at), MAX(at) FROM {rejections}")  # noqa: S608  (model table names; values are parameters)
            first, last = cursor.fetchone()
        if first is not None:
            if isinstance(first, str):  # SQLite without a declared type on an aggregate
                first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
            months = range(month_number(first.date()), month_number(last.date()) + 1)
            PendingRejectionMonth.objects.bulk_create(
                PendingRejectionMonth(month=month) for month in months
            )
    return fold()


# --- Reading ----------------------------------------------------------------------------------


@dataclass
class PeriodRows:
    """What the rollups give for a period: per-country figures, and the world's two."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    unattributed: int = 0
    accounts: int = 0
    median: float | None = None


def _middle(values: Sequence[float]) -> float:
    """The median of sorted values, rounded as the database's own median rounds it."""
    size = len(values)
    low, high = values[(size - 1) // 2], values[size // 2]
    if connection.vendor == "postgresql":  # percentile_cont: low + 0.5 * (high - low)
        return float(low + 0.5 * (high - low)) if high != low else float(low)
    return float((low + high) / 2)  # AVG of the middle rows


def _medians(first: int, last: int) -> dict[str, float]:
    """Median seconds to answer per country and for the world (``WORLD``)."""
    histogram: dict[str, Counter[int]] = defaultdict(Counter)
    rows = (
        MonthlyAnswerTimes.objects.filter(month__gte=first, month__lte=last)
        .values_list("country", "bucket")
        .order_by()
        .annotate(n=Sum("answered"))
    )
    for country, bucket, n in rows:
        histogram[country][bucket] += n
        histogram[WORLD][bucket] += n
    # For each scope, the bucket and rank within it of its middle answer(s).
    wanted: dict[str, list[tuple[int, int]]] = {}
    for scope, counts in histogram.items():
        size = sum(counts.values())
        if not size:
            continue
        places = sorted({(size + 1) // 2, (size + 2) // 2})
        found = []
        below = 0
        for bucket in sorted(counts):
            while places and places[0] <= below + counts[bucket]:
                found.append((bucket, places.pop(0) - below))
            below += counts[bucket]
        wanted[scope] = found
    if not wanted:
        return {}
    values: dict[tuple[str, int, int], float] = {}
    facts = _table(RequestFact)
    with connection.cursor() as cursor:
        country_wanted = [(s, b, r) for s, pairs in wanted.items() if s != WORLD for b, r in pairs]
        for part in _chunks(country_wanted, 300):
            needed = ", ".join(["(%s, %s, %s)"] * len(part))
            buckets = sorted({b for _, b, _ in part})
            marks = ", ".join(["%s"] * len(buckets))
            cursor.execute(
                f"WITH needed (country, bucket, position) AS (VALUES {needed}),"  # noqa: S608  (model table names; values are parameters)
                " ranked AS (SELECT f.country, f.bucket, f.seconds_to_answer AS item,"
                " ROW_NUMBER() OVER (PARTITION BY f.country, f.bucket"
                " ORDER BY f.seconds_to_answer) AS position"
                f" FROM {facts} f WHERE f.bucket IN ({marks}) AND f.month BETWEEN %s AND %s"
                " AND EXISTS (SELECT 1 FROM needed n"
                " WHERE n.country = f.country AND n.bucket = f.bucket))"
                " SELECT r.country, r.bucket, r.position, r.item FROM ranked r JOIN needed n"
                " ON n.country = r.country AND n.bucket = r.bucket AND n.position = r.position",
                [*(x for row in part for x in row), *buckets, first, last],
            )
            for country, bucket, position, item in cursor.fetchall():
                values[(country, bucket, int(position))] = float(item)
        world = wanted.get(WORLD, [])
        if world:
            buckets = sorted({b for b, _ in world})
            marks = ", ".join(["%s"] * len(buckets))
            positions = sorted({r for _, r in world})
            cursor.execute(
                "SELECT bucket, position, item FROM (SELECT bucket, seconds_to_answer AS item,"  # noqa: S608  (model table names; values are parameters)
                " ROW_NUMBER() OVER (PARTITION BY bucket ORDER BY seconds_to_answer) AS position"
                f" FROM {facts} WHERE bucket IN ({marks}) AND month BETWEEN %s AND %s) ranked"
                f" WHERE position IN ({', '.join(['%s'] * len(positions))})",
                [*buckets, first, last, *positions],
            )
            for bucket, position, item in cursor.fetchall():
                values[(WORLD, bucket, int(position))] = float(item)
    medians = {}
    for scope, pairs in wanted.items():
        middle = [values[(scope, bucket, rank)] for bucket, rank in pairs]
        medians[scope] = _middle(middle if len(middle) == 2 else middle * 2)
    return medians


def period_rows(*, period: Period, as_of: datetime) -> PeriodRows:
    """The figures of a period of whole months from the rollups (fold first)."""
    months = months_of(period)
    if months is None:
        raise ValueError(f"{period.key} is not a range of whole months")
    first, last = months
    found = PeriodRows()

    def row_of(code: str) -> dict[str, Any]:
        return found.rows.setdefault(code, {})

    counted = (
        MonthlyCounts.objects.filter(month__gte=first, month__lte=last)
        .values("country")
        .order_by()
        .annotate(
            properly_formed=Sum("properly_formed"),
            emergency=Sum("emergency"),
            preservation=Sum("preservation"),
            answered=Sum("answered"),
            answered_within_deadline=Sum("answered_within_deadline"),
            with_data_disclosed=Sum("with_data_disclosed"),
        )
    )
    for counted_row in counted:
        values: dict[str, Any] = dict(counted_row)
        row_of(str(values.pop("country"))).update(values)
    late = (
        RequestFact.objects.filter(
            clock_running=True,
            received_at__gte=period.start,
            received_at__lt=period.end,
            due_at__lt=as_of,
        )
        .values("country")
        .order_by()
        .annotate(n=Count("pk"))
    )
    for late_row in late:
        row_of(late_row["country"])["unanswered_past_deadline"] = late_row["n"]
    rejected = (
        MonthlyRejections.objects.filter(month__gte=first, month__lte=last)
        .values("agency_id")
        .order_by()
        .annotate(n=Sum("rejections"))
    )
    senders = {row["agency_id"]: row["n"] for row in rejected}
    countries = dict(
        Agency.objects.filter(pk__in=[pk for pk in senders if pk]).values_list("pk", "country")
    )
    by_country: Counter[str] = Counter()
    for agency_id, n in senders.items():
        country = countries.get(agency_id)
        if country:
            by_country[str(country)] += n
        else:
            found.unattributed += n
    for country, n in by_country.items():
        row_of(country)["rejected_at_intake"] = n
    accounts = (
        AccountFirstSeen.objects.filter(month__gte=first, month__lte=last, previous__lt=first)
        .values("scope")
        .order_by()
        .annotate(n=Sum("accounts"))
    )
    for scope, n in accounts.values_list("scope", "n"):
        if scope == WORLD:
            found.accounts = n
        elif n:
            row_of(scope)["accounts_affected"] = n
    for scope, median in _medians(first, last).items():
        if scope == WORLD:
            found.median = median
        else:
            row_of(scope)["median_seconds_to_answer"] = median
    return found


def scope_figures(*, period: Period, countries: list[str]) -> tuple[int, float | None]:
    """Distinct accounts and median seconds to answer over several countries together
    (the small countries the public document pools), from the facts."""
    months = months_of(period)
    if months is None:
        raise ValueError(f"{period.key} is not a range of whole months")
    first, last = months
    accounts = (
        AccountFact.objects.filter(country__in=countries, month__gte=first, month__lte=last)
        .values("account")
        .distinct()
        .count()
    )
    seconds: list[float] = sorted(
        value
        for value in RequestFact.objects.filter(
            country__in=countries,
            month__gte=first,
            month__lte=last,
            seconds_to_answer__isnull=False,
        ).values_list("seconds_to_answer", flat=True)
        if value is not None
    )
    return accounts, (_middle(seconds) if seconds else None)
