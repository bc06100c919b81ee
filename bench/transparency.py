"""Measure a year of transparency figures over 1,000,000 legal requests on PostgreSQL.

Run by hand (not in CI), from the repository root, with the project's virtualenv, a
PostgreSQL and a Redis on loopback:

    .venv/bin/python bench/transparency.py                  # about 10 minutes
    .venv/bin/python bench/transparency.py --reuse --no-write   # measure again, no reload

The aim (issue 7): the figures of a year, per country and for the world, in under 1 s
cold and under 50 ms cached.

What it does:

1. drops and creates the benchmark database (its name must contain "bench"), migrates
   it, seeds 300 verified agencies in 40 countries (one officer each), 12 reviewers in
   three review teams, and a small country with a handful of requests;
2. loads, with ``INSERT ... SELECT`` over ``generate_series`` (seeded, so every run has
   the same rows), 1,000,000 requests received evenly over the ten years 2016-2025
   (100,000 a year: several times the tens of thousands a year DESIGN.md plans for),
   their targets (1.3 per request), review rows, decisions (85%), sealed disclosures
   (45%) and 300,000 intake rejections; then ``VACUUM ANALYZE`` as autovacuum would;
3. measures ``period_figures`` for the year 2025, and for all ten years at once (every
   one of the 1,000,000 requests: the harshest case), through the dashboard's cache
   (``live_cached``, Redis): *cold* is a fresh database connection (``DISCARD ALL``)
   and an empty cache entry, *cached* the same call again; then the whole publication
   document (``public_document``: the same queries plus the pooled small countries).
   Each query's own time is logged, so a slow result says where the time goes;
4. measures first without the report's indexes (transparency migration 0003, dropped for
   the purpose), then with them;
5. writes its section of bench/RESULTS.md (between its own markers).

"Cold" is cold for the portal (a new connection, nothing in Django's cache), not for
PostgreSQL: its shared buffers and the operating system's page cache stay warm, as they
are on a server that is in use. Restarting the shared PostgreSQL is not done here.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where a sibling benchmark
# could shadow the standard library: put the repository there instead.
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench._results import section_write  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_transparency"
DEFAULT_CACHE = "redis://127.0.0.1:6379/12"
YEAR = 2025  # the year measured: the last of the years loaded
YEARS = 10
AS_OF = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
AGENCIES = 300
REVIEWERS = 12
COUNTRIES = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "GB",
    "US", "CA", "AU", "BR", "IN", "JP", "KR", "MX", "NO", "CH", "TR", "UA",
]  # fmt: skip
SMALL_COUNTRY = "IS"  # sends 2 requests: folded into "Other countries"
WITHOUT = "without the report's indexes"
WITH = "with the report's indexes"
AIM_COLD_S = 1.0
AIM_CACHED_MS = 50.0


def report_indexes() -> Any:
    """The migration that creates the report's indexes (its CREATE and DROP statements)."""
    import importlib

    return importlib.import_module("requests_app.transparency.migrations.0003_report_indexes")


# --- Setup ------------------------------------------------------------------------------------


def _maintenance(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def database_recreate(database_url: str) -> None:
    """Drop and create the benchmark database (refusing any name without "bench")."""
    import psycopg

    maintenance, name = _maintenance(database_url)
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    import psycopg

    maintenance, name = _maintenance(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_start(database_url: str, cache_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CACHE_URL"] = cache_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.pop("PORTAL_MODE", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def seed() -> None:
    """Agencies in 40 countries (and a small one), their officers, reviewers and teams."""
    from django.utils import timezone

    from accounts.models import Agency, Officer, Role, User
    from requests_app.transparency.models import ReviewTeam, ReviewTeamMember

    now = timezone.now()
    User.objects.create_user(
        "publisher@platform.bench", None, full_name="Publisher", role=Role.VETTING_ADMIN
    )
    reviewers = User.objects.bulk_create(
        User(
            email=f"reviewer{i}@platform.bench",
            full_name=f"Reviewer {i:02d}",
            role=Role.REVIEWER,
            password="!",  # noqa: S106  (unusable)
        )
        for i in range(REVIEWERS)
    )
    teams = ReviewTeam.objects.bulk_create(
        ReviewTeam(name=name) for name in ("Europe", "Americas", "Asia and Pacific")
    )
    ReviewTeamMember.objects.bulk_create(
        ReviewTeamMember(team=teams[i % 3], user=user) for i, user in enumerate(reviewers[:9])
    )
    countries = [*(COUNTRIES[i % len(COUNTRIES)] for i in range(AGENCIES)), SMALL_COUNTRY]
    agencies = Agency.objects.bulk_create(
        Agency(
            name=f"Bench agency {i:03d}",
            country=country,
            kind=Agency.Kind.POLICE,
            callback_phone="+4930123456",
            status=Agency.Status.VERIFIED,
            verified_at=now,
        )
        for i, country in enumerate(countries)
    )
    users = User.objects.bulk_create(
        User(
            email=f"officer@agency{i}.bench",
            full_name=f"Officer {i}",
            role=Role.OFFICER,
            password="!",  # noqa: S106
        )
        for i in range(len(agencies))
    )
    Officer.objects.bulk_create(
        Officer(
            user=u,
            agency=a,
            title="Inspector",
            badge_number=f"B-{i}",
            status=Officer.Status.ACTIVE,
            email_verified_at=now,
        )
        for i, (u, a) in enumerate(zip(users, agencies, strict=True))
    )


# r1 picks the outcome, r2 the kind, r3 the agency (squared: a few agencies send most),
# r4 how long the answer took, r5 whether the authority was asked a question.
REQUESTS_SQL = """
WITH numbers AS (
    SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
    FROM generate_series(1, %(rows)s) AS g
), officers AS (
    SELECT o.id, o.agency_id, a.country, row_number() OVER (ORDER BY o.id) - 1 AS i
    FROM accounts_officer o JOIN accounts_agency a ON a.id = o.agency_id
    WHERE a.country <> %(small)s
), shaped AS (
    SELECT n.*, o.id AS officer_id, o.agency_id, o.country,
        CASE
            WHEN r2 < 0.10 THEN 'emergency' WHEN r2 < 0.32 THEN 'preservation'
            WHEN r2 < 0.72 THEN 'subscriber_data' WHEN r2 < 0.84 THEN 'court_order'
            WHEN r2 < 0.94 THEN 'search_warrant' ELSE 'eu_epoc'
        END AS kind,
        %(start)s::timestamptz + (g - 1) * (%(span)s::float8 / %(rows)s) * interval '1 second'
            AS received_at
    FROM numbers n JOIN officers o ON o.i = floor(r3 * r3 * %(agencies)s)
), timed AS (
    SELECT s.*,
        CASE s.kind WHEN 'emergency' THEN 8 WHEN 'preservation' THEN 24 ELSE 240 END AS hours,
        CASE WHEN r5 < 0.06 THEN 172800 ELSE 0 END AS paused,
        CASE
            WHEN r1 < 0.010 THEN 'received' WHEN r1 < 0.020 THEN 'in_review'
            WHEN r1 < 0.025 THEN 'awaiting_clarification' WHEN r1 < 0.030 THEN 'approved'
            WHEN r1 < 0.230 THEN 'rejected' WHEN r1 < 0.600 THEN 'disclosed'
            WHEN r1 < 0.960 THEN 'closed' ELSE 'withdrawn'
        END AS status
    FROM shaped s
)
INSERT INTO requests_app_legalrequest (
    reference, agency_id, officer_id, channel, status, kind, emergency, country,
    case_reference, offence, data_categories, period_from, period_to, payload,
    payload_sha256, envelope_sha256, signature, key_id, verification_key, nonce, signed_at,
    signature_verified_at, received_at, due_at, receipt
)
SELECT
    'LR-B-' || lpad(to_hex(g), 8, '0'), agency_id, officer_id, 'api', status, kind,
    kind = 'emergency', country, 'CASE-' || g, 'fraud',
    '["ip_addresses", "phone_number"]', DATE '2024-10-01', DATE '2024-12-31',
    jsonb_build_object(
        'portal', 'https://portal.bench.invalid', 'nonce', md5(g::text || 'nonce'),
        'signed_at', received_at,
        'request', jsonb_build_object(
            'kind', kind, 'case_reference', 'CASE-' || g,
            'legal_basis', 'Art. 5 Regulation (EU) 2023/1543', 'offence', 'fraud',
            'issuing_authority', jsonb_build_object(
                'name', 'Judge A. Example', 'role', 'judge', 'contact', '+4930123'),
            'targets', jsonb_build_array(
                jsonb_build_object('type', 'username', 'value', 'suspect_' || g)),
            'data_categories', jsonb_build_array('ip_addresses', 'phone_number'),
            'period', jsonb_build_object('from', '2024-10-01', 'to', '2024-12-31'))),
    md5(g::text) || md5(g::text || 'p'), md5(g::text || 'e') || md5(g::text || 'f'),
    jsonb_build_object('alg', 'ed25519', 'key_id', 'ed25519:' || md5(officer_id::text),
                       'value', md5(g::text || 's') || md5(g::text || 't')),
    'ed25519:' || md5(officer_id::text),
    E'-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEA' || md5(officer_id::text)
        || E'=\\n-----END PUBLIC KEY-----\\n',
    md5(g::text || 'nonce') || g,
    received_at - interval '2 seconds', received_at, received_at,
    received_at + make_interval(hours => hours, secs => paused),
    jsonb_build_object('reference', 'LR-B-' || lpad(to_hex(g), 8, '0'),
                       'payload_sha256', md5(g::text) || md5(g::text || 'p'),
                       'received_at', received_at, 'alg', 'ed25519', 'key_id', 'ed25519:portal',
                       'signature', md5(g::text || 'r') || md5(g::text || 'q'))
FROM timed
"""

SMALL_SQL = """
INSERT INTO requests_app_legalrequest (
    reference, agency_id, officer_id, channel, status, kind, emergency, country,
    case_reference, offence, data_categories, payload, payload_sha256, envelope_sha256,
    signature, key_id, verification_key, nonce, signed_at, signature_verified_at,
    received_at, due_at, receipt
)
SELECT 'LR-S-' || g, o.agency_id, o.id, 'api', 'received', 'subscriber_data', false,
    %(small)s, 'SMALL-' || g, 'fraud', '[]', '{}', md5(g::text), md5(g::text),
    '{}', 'ed25519:small', '', 'small-nonce-' || g, t, t, t, t + interval '10 days', '{}'
FROM generate_series(1, 2) AS g,
     (SELECT o.id, o.agency_id FROM accounts_officer o JOIN accounts_agency a
      ON a.id = o.agency_id WHERE a.country = %(small)s) o,
     LATERAL (SELECT TIMESTAMPTZ '2025-06-01 10:00+00' + g * interval '1 day' AS t) moment
"""

# One username per request, a second for 30% of them; usernames repeat across requests.
TARGETS_SQL = """
INSERT INTO requests_app_requesttarget (request_id, type, value)
SELECT id, 'username', 'user_' || (id * 7919 %% 600000) FROM requests_app_legalrequest
UNION ALL
SELECT id, 'username', 'user_' || (id * 104729 %% 600000) FROM requests_app_legalrequest
WHERE id %% 10 < 3
"""

# Review rows for everything a reviewer touched; decided when the request was decided.
# The answer takes 10% to 120% of the deadline (about 1 in 11 late), plus any pause.
REVIEW_SQL = """
INSERT INTO requests_app_reviewstate (
    request_id, assignee_id, assigned_at, paused_seconds, preservation_extended, decided_at
)
SELECT r.id, u.id, r.received_at + interval '1 hour',
    extract(epoch FROM (r.due_at - r.received_at))::bigint
        - CASE r.kind WHEN 'emergency' THEN 8 WHEN 'preservation' THEN 24 ELSE 240 END * 3600,
    false,
    CASE WHEN r.status IN ('approved', 'rejected', 'disclosed', 'closed')
         THEN r.received_at + (r.due_at - r.received_at) * (0.1 + 1.1 * ((r.id * 7) %% 100) / 100.0)
    END
FROM requests_app_legalrequest r
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i
      FROM accounts_user WHERE role = 'reviewer') u ON u.i = r.id %% %(reviewers)s
WHERE r.status <> 'received'
"""

# Closed requests were disclosed 60% of the time, else rejected; rejected ones were
# rejected; the rest (approved, disclosed) approved. The approved targets: all of them.
DECISIONS_SQL = """
INSERT INTO requests_app_decision (
    request_id, outcome, state, proposed_by_id, proposed_at, confirmed_by_id, confirmed_at,
    approved_target_ids, approved_categories, reason_code, message_to_authority, internal_note
)
SELECT r.id,
    CASE WHEN r.status = 'rejected' OR (r.status = 'closed' AND r.id %% 5 >= 3)
         THEN 'reject' ELSE 'approve_full' END,
    'confirmed', s.assignee_id, s.decided_at - interval '1 hour', s.assignee_id, s.decided_at,
    CASE WHEN r.status = 'rejected' OR (r.status = 'closed' AND r.id %% 5 >= 3) THEN '[]'::jsonb
         ELSE (SELECT jsonb_agg(t.id) FROM requests_app_requesttarget t WHERE t.request_id = r.id)
    END,
    '[]', '', '', ''
FROM requests_app_legalrequest r JOIN requests_app_reviewstate s ON s.request_id = r.id
WHERE s.decided_at IS NOT NULL
"""

DISCLOSURES_SQL = """
INSERT INTO requests_app_disclosure (
    request_id, decision_id, created_by_id, created_at, state, note_to_authority
)
SELECT d.request_id, d.id, d.confirmed_by_id, d.confirmed_at + interval '5 minutes',
    'sealed', ''
FROM requests_app_decision d JOIN requests_app_legalrequest r ON r.id = d.request_id
WHERE d.outcome <> 'reject' AND r.status IN ('disclosed', 'closed')
"""

REJECTIONS_SQL = """
INSERT INTO requests_app_intakerejection (at, channel, code, status, detail, agency_id, key_id,
                                          ip, body_sha256)
SELECT %(start)s::timestamptz + random() * %(span)s * interval '1 second', 'api',
    (ARRAY['unknown_key', 'bad_signature', 'malformed', 'stale', 'policy_violation',
           'rate_limited', 'replay'])[1 + floor(random() * 7)::int],
    401, '',
    CASE WHEN random() < 0.5 THEN (SELECT id FROM accounts_agency
                                   ORDER BY id OFFSET (g %% %(agencies)s) LIMIT 1) END,
    '', ('203.0.113.' || (g %% 250 + 1))::inet, md5(g::text)
FROM generate_series(1, %(rejections)s) AS g
"""


def load(rows: int, rejections: int, years: int) -> dict[str, float]:
    """Load the rows, evenly over ``years`` ending with YEAR; return each step's seconds."""
    import psycopg
    from django.db import connection

    start = datetime(YEAR - years + 1, 1, 1, tzinfo=UTC)
    span = (datetime(YEAR + 1, 1, 1, tzinfo=UTC) - start).total_seconds()
    params = {
        "rows": rows,
        "start": start,
        "span": span,
        "agencies": AGENCIES,
        "reviewers": REVIEWERS,
        "rejections": rejections,
        "small": SMALL_COUNTRY,
    }
    took: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        for name, sql in (
            ("requests", REQUESTS_SQL),
            ("small country", SMALL_SQL),
            ("targets", TARGETS_SQL),
            ("review rows", REVIEW_SQL),
            ("decisions", DECISIONS_SQL),
            ("disclosures", DISCLOSURES_SQL),
            ("intake rejections", REJECTIONS_SQL),
        ):
            started = time.perf_counter()
            cursor.execute(sql, params)
            took[name] = time.perf_counter() - started
    connection.close()  # VACUUM cannot run inside the connection's transaction block
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    took["VACUUM ANALYZE"] = time.perf_counter() - started
    return took


def indexes_drop() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in report_indexes().DROP:
            cursor.execute(statement)


def indexes_create() -> float:
    """Create the report's indexes as the migration does, VACUUM ANALYZE; return seconds."""
    import psycopg
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in report_indexes().CREATE:
            cursor.execute(statement)
    connection.close()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def table_counts() -> dict[str, int]:
    from django.db import connection

    found = {}
    with connection.cursor() as cursor:
        for table in (
            "requests_app_legalrequest",
            "requests_app_requesttarget",
            "requests_app_reviewstate",
            "requests_app_decision",
            "requests_app_disclosure",
            "requests_app_intakerejection",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608  (fixed names)
            found[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('requests_app_legalrequest'))")
        found["requests size"] = cursor.fetchone()[0]
    return found


# --- Measuring ----------------------------------------------------------------------------------


class QueryClock:
    """Time each SQL statement a block runs (Django's execute wrapper)."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.timings.append((sql, time.perf_counter() - started))


def _query_name(sql: str) -> str:
    text = " ".join(sql.split())
    if "MATERIALIZED" in text and "SELECT DISTINCT" in text:
        return "distinct accounts, per country and world"
    if "MATERIALIZED" in text:
        return "median, per country and world"
    if "requests_app_intakerejection" in text:
        return "intake rejections by country"
    if "requests_app_disclosure" in text:
        return "requests with data disclosed by country"
    if "requests_app_legalrequest" in text:
        return "requests by country (counts, deadline)"
    return text[:60]


def fresh_connection() -> None:
    """Close the connection; open a new one and DISCARD ALL before the clock starts."""
    from django.db import connection

    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("DISCARD ALL")


def periods(years: int) -> dict[str, Any]:
    """What is measured: the last year, and every year loaded at once (all the rows)."""
    from datetime import date

    from requests_app.transparency.periods import Period, PeriodKind

    whole = Period(date(YEAR - years + 1, 1, 1), date(YEAR, 12, 31), PeriodKind.CUSTOM)
    found = {f"the year {YEAR}": Period.year(YEAR)}
    if years > 1:
        # Longer than a custom range may be on the dashboard: built directly, for the bench.
        found[f"all {years} years at once"] = whole
    return found


def measure(period: Any, rounds: int) -> dict[str, Any]:
    """Cold and cached timings of a period's figures; the cold queries' own times."""
    from django.core.cache import cache
    from django.db import connection

    from requests_app.transparency.cache import live_cached, live_key
    from requests_app.transparency.figures import period_figures
    from requests_app.transparency.report import public_document

    def compute() -> Any:
        return period_figures(period=period, as_of=AS_OF)

    cold: list[float] = []
    cached: list[float] = []
    publication: list[float] = []
    per_query: dict[str, list[float]] = {}
    figures = document = None
    for _ in range(rounds):
        cache.delete(live_key(period.key))
        fresh_connection()
        clock = QueryClock()
        started = time.perf_counter()
        with connection.execute_wrapper(clock):
            figures = live_cached(period.key, compute)
        cold.append(time.perf_counter() - started)
        for sql, seconds in clock.timings:
            per_query.setdefault(_query_name(sql), []).append(seconds)
        for _ in range(20):
            started = time.perf_counter()
            live_cached(period.key, compute)
            cached.append(time.perf_counter() - started)
        fresh_connection()
        started = time.perf_counter()
        document = public_document(compute())
        publication.append(time.perf_counter() - started)
    if figures is None or document is None:
        raise RuntimeError("no round was measured")
    return {
        "cold": cold,
        "cached": cached,
        "publication": publication,
        "per_query": per_query,
        "world": figures.world,
        "countries": len(figures.countries),
        "named": len(document["countries"]),
        "other": document["other_countries"],
    }


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f}"


def _ms_fine(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def report(runs: dict[tuple[str, str], dict[str, Any]], meta: dict[str, Any]) -> str:
    """The section of RESULTS.md: ``runs`` maps (indexes, period) to a measurement."""
    year = f"the year {YEAR}"
    best = runs[(WITH, year)]
    cold_s = statistics.median(best["cold"])
    cached_ms = statistics.median(best["cached"]) * 1000
    met = cold_s < AIM_COLD_S and cached_ms < AIM_CACHED_MS
    world = best["world"]
    lines = [
        "## Transparency report: a year of figures over 1,000,000 requests",
        "",
        "Written by `bench/transparency.py` (how to run it: `bench/README.md`). Numbers from "
        "one machine are comparable with each other, not with another machine's.",
        "",
        f"**A year of figures ({YEAR}: {world.received:,} requests and rejections of the "
        f"{meta['rows']:,} loaded, every country and the world) took {cold_s * 1000:,.0f} ms "
        f"cold and {cached_ms:.2f} ms cached. Aim (under 1 s cold, under 50 ms cached): "
        f"{'met' if met else 'NOT met'}.**",
        "",
        "| indexes | period | requests in it | cold: median (ms) | cold: every round (ms) "
        "| cached: median (ms) | publication document, cold: median (ms) |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for (indexes, label), run in runs.items():
        rounds = ", ".join(f"{s * 1000:,.0f}" for s in run["cold"])
        lines.append(
            f"| {indexes} | {label} | {run['world'].properly_formed:,} | {_ms(run['cold'])} "
            f"| {rounds} | {_ms_fine(run['cached'])} | {_ms(run['publication'])} |"
        )
    whole = [run for (indexes, label), run in runs.items() if indexes == WITH and label != year]
    if whole:
        lines += [
            "",
            f"Counting all {whole[0]['world'].properly_formed:,} requests at once (every year "
            f"loaded, as one period) took {_ms(whole[0]['cold'])} ms with the indexes: the aim "
            "holds for a year at this volume, not for the whole table at once. The dashboard "
            "counts at most 731 days at a time, the public report a quarter or a year.",
        ]
    lines += [
        "",
        "Where the cold time goes (median of the rounds, ms per query):",
        "",
        "| query | " + " | ".join(f"{indexes}, {label}" for indexes, label in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for query in next(iter(runs.values()))["per_query"]:
        cells = [_ms(run["per_query"].get(query, [0.0])) for run in runs.values()]
        lines.append(f"| {query} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"The figures of {YEAR}: {world.received:,} received ({world.properly_formed:,} "
        f"properly formed, {world.rejected_at_intake:,} rejected at intake), "
        f"{world.with_data_disclosed:,} with data disclosed, {world.accounts_affected:,} "
        f"distinct accounts, {world.within_deadline_percent}% within the deadline, median "
        f"{world.median_hours_to_answer} hours; {best['countries']} countries, "
        f"{best['named']} named and {best['other']['countries'] if best['other'] else 0} "
        "folded into “Other countries”.",
        "",
        "The report's indexes (created by `requests_app/transparency/migrations/"
        "0003_report_indexes.py` on PostgreSQL; the benchmark drops them for the first "
        "measurements): "
        + ", ".join(f"`{name}`" for name in meta["indexes"])
        + f" ({meta['index_seconds']:.0f} s to build and analyse on this data).",
        "",
        "### The run",
        "",
        f"- when: {meta['when']}",
        f"- code: `{meta['commit']}`",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; load average (1, 5, 15 min) {meta['load_before']} "
        f"before, {meta['load_after']} after",
        f"- {meta['versions']}",
        f"- data: {meta['counts']}, received evenly over {meta['years']} years "
        f"({YEAR - meta['years'] + 1} to {YEAR}); loaded in {meta['load_seconds']}",
        f"- {meta['rounds']} rounds; *cold*: a new database connection and `DISCARD ALL`, the "
        "cache entry deleted, then `live_cached` (Django's cache on Redis) computes "
        "`period_figures`; *cached*: the same call 20 times after it. *Publication "
        "document*: `public_document(period_figures(...))` on a fresh connection, what "
        "publishing a period counts (the same queries, plus the pooled small countries).",
        "- PostgreSQL's shared buffers and the OS page cache were warm (not restarted: the "
        "server is shared).",
    ]
    if meta["busy"]:
        lines += [
            "",
            f"*The machine was busy (load average {meta['load_before']} before the run on "
            f"{os.cpu_count()} CPUs): the times are higher and noisier than on a quiet "
            "machine.*",
        ]
    return "\n".join(lines) + "\n"


def results_write(markdown: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; leave the rest alone."""
    section_write("transparency.py", markdown)


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found + " with uncommitted changes"


def _versions() -> str:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    return f"Python {platform.python_version()}, Django {django.get_version()}, PostgreSQL {server}"


def _timed(what: str, step: Callable[[], Any]) -> Any:
    print(f"{what}...", flush=True)
    started = time.perf_counter()
    result = step()
    print(f"{what}: {time.perf_counter() - started:.1f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cache-url", default=DEFAULT_CACHE)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rejections", type=int, default=300_000)
    parser.add_argument("--years", type=int, default=YEARS, help="years the rows spread over")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database again")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    load_before = _load_average()
    if not args.reuse:
        database_recreate(args.database_url)
    django_start(args.database_url, args.cache_url)
    from django.core.management import call_command
    from django.db import connection

    load_seconds = "reused"
    if not args.reuse:
        _timed("migrate", lambda: call_command("migrate", verbosity=0))
        _timed("seed", seed)
        took = _timed("load", lambda: load(args.rows, args.rejections, args.years))
        load_seconds = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items())
    counts = table_counts()
    print(counts, flush=True)

    runs: dict[tuple[str, str], dict[str, Any]] = {}
    measured = periods(args.years)
    indexes_drop()
    for label, period in measured.items():
        runs[(WITHOUT, label)] = _timed(
            f"measure {label} {WITHOUT}", lambda p=period: measure(p, args.rounds)
        )
    index_seconds = _timed("the report's indexes", indexes_create)
    for label, period in measured.items():
        runs[(WITH, label)] = _timed(
            f"measure {label} {WITH}", lambda p=period: measure(p, args.rounds)
        )
    for (indexes, label), run in runs.items():
        print(
            f"{indexes}, {label}: cold {_ms(run['cold'])} ms, cached {_ms_fine(run['cached'])} ms"
        )
        for query, seconds in run["per_query"].items():
            print(f"    {query}: {_ms(seconds)} ms")

    load_after = _load_average()
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "command": "python bench/transparency.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}",
        "versions": _versions(),
        "load_before": load_before,
        "load_after": load_after,
        "busy": float(load_before.split()[0]) > (os.cpu_count() or 1),
        "counts": ", ".join(
            f"{name.replace('requests_app_', '')} {value:,}"
            if isinstance(value, int)
            else f"{name} {value}"
            for name, value in counts.items()
        ),
        "load_seconds": load_seconds,
        "rounds": args.rounds,
        "rows": args.rows,
        "years": args.years,
        "indexes": list(report_indexes().INDEXES),
        "index_seconds": index_seconds,
    }
    markdown = report(runs, meta)
    print(markdown)
    if not args.no_write:
        results_write(markdown)
    connection.close()
    if not args.keep_database and not args.reuse:
        database_drop(args.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
