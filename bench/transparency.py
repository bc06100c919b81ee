"""Measure the transparency report of a year holding 1,000,000 legal requests, cold and cached.

Run by hand (not in CI), from the repository root, with the project's virtualenv, the
PostgreSQL 15 binaries (``/usr/lib/postgresql/15/bin`` or ``PG_BIN``) and a Redis on
loopback:

    .venv/bin/python bench/transparency.py                 # 1,000,000 requests in 2025
    .venv/bin/python bench/transparency.py --rows 100000   # a smoke run

Baseline: the raw aggregate (``figures.period_figures_raw``: the report's SQL over the
requests themselves, with the report's covering indexes), measured in the same run, on
the same cluster, cold in the same way, the rounds interleaved with the rollups'.

The aim (issue 17): the year's figures (every country and the world) cold in under 1 s,
cached in under 50 ms. *Cold* means the report's cache entry deleted AND the
benchmark's own PostgreSQL cluster restarted with its files dropped from the operating
system's page cache (``posix_fadvise(DONTNEED)`` on the cluster's files only), so that
neither PostgreSQL's buffers nor the page cache hold anything of it.

What it does:

1. ``initdb`` a PostgreSQL cluster of its own (a temporary folder, its own port and socket
   folder; the shared server on 5432 is never touched), creates and migrates the
   database, seeds 300 verified agencies in 40 countries, 12 reviewers, a small country;
2. loads, with ``INSERT ... SELECT`` over ``generate_series`` (seeded), the requests
   received evenly over the year 2025 (``--years`` spreads them over more years ending
   with 2025), their targets, review rows, decisions, sealed disclosures and intake
   rejections; the triggers of transparency migration 0005 mark them all, and the
   rollups are built by the same ``rollups.fold`` that Celery beat runs (timed);
   ``VACUUM ANALYZE``;
3. for each round, in alternating order, the rollups (``period_figures``: the fold of
   what is pending, then the rollups) and the raw aggregate: cluster restarted and
   dropped from the page cache, cache entry deleted, then ``live_cached`` computes the
   year (*cold*); the same call 20 times (*cached*); the computation again without the
   cache (*warm*: buffers warm);
4. the time from one change (a request decided) to a read that includes it;
5. writes its section of bench/RESULTS.md (between its own markers).
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
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

from bench._results import section_write  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
DATABASE = "portal_bench_transparency"
DEFAULT_CACHE = "redis://127.0.0.1:6379/12"
YEAR = 2025  # the year measured: the last of the years loaded
AS_OF = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
AGENCIES = 300
REVIEWERS = 12
COUNTRIES = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "GB",
    "US", "CA", "AU", "BR", "IN", "JP", "KR", "MX", "NO", "CH", "TR", "UA",
]  # fmt: skip
SMALL_COUNTRY = "IS"  # sends 2 requests: folded into "Other countries"
AIM_COLD_S = 1.0
AIM_CACHED_MS = 50.0


def django_start(database_url: str, cache_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CACHE_URL"] = cache_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.pop("PORTAL_MODE", None)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def vacuum() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


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
    params: dict[str, Any] = {
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


def table_counts() -> dict[str, int | str]:
    from django.db import connection

    found: dict[str, int | str] = {}
    with connection.cursor() as cursor:
        for table in (
            "requests_app_legalrequest",
            "requests_app_requesttarget",
            "requests_app_reviewstate",
            "requests_app_decision",
            "requests_app_disclosure",
            "requests_app_intakerejection",
            "transparency_requestfact",
            "transparency_accountfact",
            "transparency_monthlycounts",
            "transparency_monthlyanswertimes",
            "transparency_accountfirstseen",
            "transparency_monthlyrejections",
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


QUERY_NAMES = (
    ("pendingrequest", "fold: anything pending?"),
    ("pendingrejectionmonth", "fold: anything pending?"),
    ("pg_advisory_xact_lock", "fold: anything pending?"),
    ("transparency_monthlycounts", "monthly counts by country"),
    ("transparency_monthlyrejections", "intake rejections by month and agency"),
    ("transparency_accountfirstseen", "distinct accounts (first seen)"),
    ("transparency_monthlyanswertimes", "median: answer-time histogram"),
    ("ROW_NUMBER", "median: the middle answers in their buckets"),
    ("clock_running", "unanswered past the deadline (open requests)"),
    ("SELECT DISTINCT", "distinct accounts, per country and world"),
    ("MATERIALIZED", "median, per country and world"),
    ("requests_app_intakerejection", "intake rejections by country"),
    ("accounts_agency", "intake rejections by month and agency"),
    ("requests_app_disclosure", "requests with data disclosed by country"),
    ("requests_app_legalrequest", "requests by country (counts, deadline)"),
)


def _query_name(sql: str) -> str:
    text = " ".join(sql.split())
    if text.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
        return "savepoints"
    for needle, name in QUERY_NAMES:
        if needle in text:
            return name
    return text[:60]


class ColdCluster:
    """The benchmark's own PostgreSQL cluster, restarted cold on demand."""

    def __init__(self, directory: Path, port: int) -> None:
        from bench._stack import OwnPostgres

        self.postgres = OwnPostgres(directory, port)

    def start(self) -> None:
        self.postgres.init()
        self.postgres.start()

    def url(self, database: str) -> str:
        return self.postgres.url(database)

    def restart_cold(self) -> float:
        """Stop (a clean shutdown), drop the cluster's files from the page cache, start."""
        from django.db import connections

        connections.close_all()
        started = time.perf_counter()
        self.postgres.stop("fast")
        self.page_cache_drop()
        self.postgres.start()
        return time.perf_counter() - started

    def page_cache_drop(self) -> None:
        """Write back and evict this cluster's files, and only them, from the page cache."""
        for folder, _, names in os.walk(self.postgres.data):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    descriptor = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    os.fsync(descriptor)
                    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
                except OSError:
                    pass
                finally:
                    os.close(descriptor)

    def stop(self) -> None:
        from django.db import connections

        connections.close_all()
        self.postgres.stop("fast")


ROLLUPS = "rollups"
RAW = "raw aggregate"


def _compute(kind: str, period: Any) -> Callable[[], Any]:
    from requests_app.transparency.figures import period_figures, period_figures_raw

    function = period_figures if kind == ROLLUPS else period_figures_raw
    return lambda: function(period=period, as_of=AS_OF)


def measure(cluster: ColdCluster, period: Any, rounds: int) -> dict[str, dict[str, Any]]:
    """Cold, cached and warm timings of both ways, rounds interleaved (order alternating)."""
    from django.core.cache import cache
    from django.db import connection

    from requests_app.transparency.cache import live_cached, live_key

    found: dict[str, dict[str, Any]] = {
        kind: {"cold": [], "cached": [], "warm": [], "per_query": {}, "figures": None}
        for kind in (ROLLUPS, RAW)
    }
    for number in range(rounds):
        order = (ROLLUPS, RAW) if number % 2 == 0 else (RAW, ROLLUPS)
        for kind in order:
            run = found[kind]
            compute = _compute(kind, period)
            key = f"{period.key}:bench:{kind.replace(' ', '-')}"
            cache.delete(live_key(key))
            cluster.restart_cold()
            connection.ensure_connection()  # the connection is not what is measured
            clock = QueryClock()
            started = time.perf_counter()
            with connection.execute_wrapper(clock):
                run["figures"] = live_cached(key, compute)
            run["cold"].append(time.perf_counter() - started)
            per_round: dict[str, float] = {}
            for sql, seconds in clock.timings:
                name = _query_name(sql)
                per_round[name] = per_round.get(name, 0.0) + seconds
            for name, seconds in per_round.items():
                run["per_query"].setdefault(name, []).append(seconds)
            for _ in range(20):
                started = time.perf_counter()
                live_cached(key, compute)
                run["cached"].append(time.perf_counter() - started)
            started = time.perf_counter()
            compute()
            run["warm"].append(time.perf_counter() - started)
            print(
                f"round {number + 1} {kind}: cold {run['cold'][-1] * 1000:,.0f} ms, "
                f"warm {run['warm'][-1] * 1000:,.0f} ms",
                flush=True,
            )
    if found[ROLLUPS]["figures"] != found[RAW]["figures"]:
        raise SystemExit("the rollups and the raw aggregate disagree: nothing written")
    return found


def change_to_read(period: Any, rounds: int) -> list[float]:
    """Seconds from a committed change (a request decided) to a read of the year with it."""
    from requests_app.lifecycle.models import LegalRequest, ReviewState
    from requests_app.transparency.figures import period_figures

    took = []
    undecided = ReviewState.objects.filter(
        decided_at__isnull=True, request__received_at__gte=period.start
    ).values_list("request_id", flat=True)[:rounds]
    for request_id in undecided:
        request = LegalRequest.objects.get(pk=request_id)
        before = period_figures(period=period, as_of=AS_OF).world.answered
        ReviewState.objects.filter(request_id=request_id).update(
            decided_at=request.received_at + (request.due_at - request.received_at) / 2
        )
        started = time.perf_counter()
        after = period_figures(period=period, as_of=AS_OF).world.answered
        took.append(time.perf_counter() - started)
        if after != before + 1:
            raise SystemExit("a change was not in the next read")
    return took


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f}"


def _ms_fine(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def _spread(values: list[float]) -> str:
    return f"{min(values) * 1000:,.0f}–{max(values) * 1000:,.0f}"


def report(runs: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    """The section of RESULTS.md."""
    rollup, raw = runs[ROLLUPS], runs[RAW]
    cold_s = statistics.median(rollup["cold"])
    cached_ms = statistics.median(rollup["cached"]) * 1000
    met = cold_s < AIM_COLD_S and cached_ms < AIM_CACHED_MS
    ratios = [r / b for r, b in zip(rollup["cold"], raw["cold"], strict=True)]
    world = rollup["figures"].world
    lines = [
        f"## Transparency report: a year holding {meta['in_year']:,} requests",
        "",
        "Written by `bench/transparency.py` (how to run it: `bench/README.md`). **Baseline: "
        "the raw aggregate (`period_figures_raw`, the report's SQL over the requests "
        "themselves, with the report's covering indexes), measured in the same run on the "
        "same cluster, cold the same way, rounds interleaved.** Numbers from one machine "
        "are comparable with each other, not with another machine's.",
        "",
        f"**The year {YEAR} ({world.properly_formed:,} requests in it, every country and the "
        f"world) took {cold_s * 1000:,.0f} ms cold from the rollups (rounds "
        f"{_spread(rollup['cold'])} ms) against {_ms(raw['cold'])} ms for the raw aggregate "
        f"(rounds {_spread(raw['cold'])} ms): {statistics.median(ratios):.3f} of it (median "
        f"of the per-round ratios); cached {cached_ms:.2f} ms. Aim (under 1 s cold, under "
        f"50 ms cached): {'met' if met else 'NOT met'}.**",
        "",
        "| way | cold: median (ms) | cold: every round (ms) | warm, uncached: median (ms) "
        "| cached: median (ms) |",
        "|---|---:|---|---:|---:|",
    ]
    for kind, run in runs.items():
        rounds = ", ".join(f"{s * 1000:,.0f}" for s in run["cold"])
        lines.append(
            f"| {kind} | {_ms(run['cold'])} | {rounds} | {_ms(run['warm'])} "
            f"| {_ms_fine(run['cached'])} |"
        )
    lines += [
        "",
        f"A change (a request decided) was in the next read after {_ms(meta['change'])} ms "
        f"(median of {len(meta['change'])}; the read folds what is pending first, warm).",
        "",
        "Where the cold time goes (median of the rounds, ms):",
        "",
        "| statements | ms |",
        "|---|---:|",
    ]
    for kind in (ROLLUPS, RAW):
        for query, seconds in runs[kind]["per_query"].items():
            lines.append(f"| {kind}: {query} | {_ms(seconds)} |")
    lines += [
        "",
        f"The figures of {YEAR} (equal both ways, checked): {world.received:,} received "
        f"({world.properly_formed:,} properly formed, {world.rejected_at_intake:,} rejected "
        f"at intake), {world.with_data_disclosed:,} with data disclosed, "
        f"{world.accounts_affected:,} distinct accounts, {world.within_deadline_percent}% "
        f"within the deadline, median {world.median_hours_to_answer} hours; "
        f"{len(rollup['figures'].countries)} countries.",
        "",
        "### The run",
        "",
        f"- when: {meta['when']}",
        f"- code: `{meta['commit']}`",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; load average (1, 5, 15 min) {meta['load_before']} "
        f"before, {meta['load_after']} after",
        f"- {meta['versions']}; the benchmark's own cluster (initdb defaults, "
        "shared_buffers 128 MB), on the same machine, over loopback",
        f"- data: {meta['counts']}; received evenly over {meta['years']} year(s) ending "
        f"with {YEAR}; loaded in {meta['load_seconds']}; the rollups folded from the "
        f"triggers' marks in {meta['fold_seconds']:.0f} s",
        f"- {meta['rounds']} rounds, the two ways in alternating order; *cold*: the cluster "
        "stopped, its files written back and dropped from the page cache, started again "
        f"(median {_ms(meta['restarts'])} ms, not counted), the cache entry deleted, a new "
        "connection, then `live_cached` (Django's cache on Redis) computes the year; "
        "*cached*: the same call 20 times after it; *warm*: the computation again without "
        "the cache.",
    ]
    if meta["busy"]:
        lines += [
            "",
            f"*The machine was busy (load average {meta['load_before']} before the run on "
            f"{os.cpu_count()} CPUs): the times are higher and noisier than on a quiet "
            "machine; the ratio is the figure to read.*",
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
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found + (" with uncommitted changes" if dirty else "")


def _versions(cluster: ColdCluster) -> str:
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
    parser.add_argument("--cache-url", default=DEFAULT_CACHE)
    parser.add_argument("--rows", type=int, default=1_000_000, help="legal requests loaded")
    parser.add_argument("--rejections", type=int, help="intake rejections (default: 30%% of rows)")
    parser.add_argument("--years", type=int, default=1, help="years the rows spread over")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=55440, help="the cluster's port (or next free)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rejections = args.rejections if args.rejections is not None else args.rows * 3 // 10

    from bench._stack import free_port

    load_before = _load_average()
    folder = Path(tempfile.mkdtemp(prefix="bench-transparency-"))
    if os.geteuid() == 0:  # initdb runs as "postgres" then (bench/_stack.py)
        shutil.chown(folder, "postgres", "postgres")
    cluster = ColdCluster(folder / "cluster", free_port(args.port))
    try:
        _timed("initdb and start", cluster.start)
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        django_start(cluster.url(DATABASE), args.cache_url)
        from django.core.management import call_command

        from requests_app.transparency import rollups
        from requests_app.transparency.periods import Period

        _timed("migrate", lambda: call_command("migrate", verbosity=0))
        _timed("seed", seed)
        took = _timed("load", lambda: load(args.rows, rejections, args.years))
        load_seconds = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items())
        started = time.perf_counter()
        _timed("fold the rollups", rollups.fold)
        fold_seconds = time.perf_counter() - started
        _timed("VACUUM ANALYZE", vacuum)
        counts = table_counts()
        print(counts, flush=True)

        period = Period.year(YEAR)
        restarts: list[float] = []
        original = cluster.restart_cold

        def restart_timed() -> float:
            seconds = original()
            restarts.append(seconds)
            return seconds

        cluster.restart_cold = restart_timed  # type: ignore[method-assign]
        runs = _timed("measure", lambda: measure(cluster, period, args.rounds))
        change = _timed("change to read", lambda: change_to_read(period, 5))
        for kind, run in runs.items():
            print(
                f"{kind}: cold {_ms(run['cold'])} ms ({_spread(run['cold'])}), warm "
                f"{_ms(run['warm'])} ms, cached {_ms_fine(run['cached'])} ms"
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
            "versions": _versions(cluster),
            "load_before": load_before,
            "load_after": load_after,
            "busy": float(load_before.split()[0]) > (os.cpu_count() or 1),
            "counts": ", ".join(
                f"{name.replace('requests_app_', '').replace('transparency_', '')} {value:,}"
                if isinstance(value, int)
                else f"{name} {value}"
                for name, value in counts.items()
            ),
            "in_year": runs[ROLLUPS]["figures"].world.properly_formed,
            "load_seconds": load_seconds,
            "fold_seconds": fold_seconds,
            "rounds": args.rounds,
            "years": args.years,
            "restarts": restarts,
            "change": change,
        }
        markdown = report(runs, meta)
        print(markdown)
        if not args.no_write:
            results_write(markdown)
    finally:
        cluster.stop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
