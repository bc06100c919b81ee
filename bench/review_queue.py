"""Measure the review queue page at 10k, 100k and 1M legal requests on PostgreSQL.

Run by hand (not in CI), from the repository root, with the project's virtualenv and a
PostgreSQL on loopback:

    .venv/bin/python bench/review_queue.py                      # 10k, 100k, 1M; about 5 minutes
    .venv/bin/python bench/review_queue.py --sizes 10000,100000 --requests 50 --no-write
    .venv/bin/python bench/review_queue.py --keep-database   # then, without filling again:
    .venv/bin/python bench/review_queue.py --reuse

What it does:

1. drops and creates the benchmark database (its name must contain "bench"), migrates
   it, and creates the queue's indexes (``queue_indexes`` below, the ones proposed for
   ``LegalRequest`` and ``ReviewState``) where the migrations have not already made them;
2. seeds 12 reviewers, 300 verified agencies in 40 countries with one officer each;
3. for each size, grows the table to that many requests with one ``INSERT ... SELECT``
   over ``generate_series`` (seeded, so every run has the same rows), adds the review
   rows, and runs ``VACUUM ANALYZE`` as autovacuum would;
4. logs a reviewer in through the real login pages (password, then a TOTP code) and
   times ``GET /review/`` with Django's test client, in-process: the whole stack from
   the middleware to the rendered template, without a network or a WSGI server.
   Every scenario (the default page, a later page, each filter, each sort) is warmed up
   and then requested ``--requests`` times; it reports the median, the 95th percentile
   and the number of SQL queries of one request;
5. writes its section of bench/RESULTS.md (between its own markers; the rest of the
   file is left alone).

The rows: 3% of requests are open work (received, in review, awaiting clarification,
approved) and 97% archive (rejected, disclosed, closed, withdrawn), whatever the size, so
the open work grows with the table (30,000 open requests at 1M, far more than a legal
team holds): a harsher test than a real portal, whose open work stays about the same
while its archive grows. 2% are emergencies; agencies are skewed (a few send most).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, and this file would be
# imported as the standard library's ``queue``: put the repository there instead.
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench._results import section_write  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_queue_bench"
PASSWORD = "bench reviewer password, not a secret"  # noqa: S105
AGENCIES = 300
COUNTRIES = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "GB",
    "US", "CA", "AU", "BR", "IN", "JP", "KR", "MX", "NO", "CH", "TR", "UA",
]  # fmt: skip
REVIEWERS = 12
AIM_MS = 50.0
AIM_GROWTH = 2.0
AIM_COUNT_MS = 5.0


def queue_indexes() -> list[tuple[Any, Any]]:
    """The indexes proposed for the queue, as (model, index), named as in the migration."""
    from django.db import models

    from requests_app.lifecycle.models import LegalRequest, ReviewState

    working = models.Q(status__in=["received", "in_review", "awaiting_clarification", "approved"])
    tail = ["-emergency", "due_at", "id"]
    request_indexes = [
        models.Index(fields=["status", *tail], name="lr_queue_status"),
        models.Index(fields=tail, name="lr_queue_open", condition=working),
        models.Index(fields=["kind", *tail], name="lr_queue_open_kind", condition=working),
        models.Index(fields=["country", *tail], name="lr_queue_open_country", condition=working),
        models.Index(fields=["agency", *tail], name="lr_queue_open_agency", condition=working),
        models.Index(fields=["-received_at", "-id"], name="lr_queue_open_recv", condition=working),
    ]
    review_indexes = [models.Index(fields=["request", "assignee"], name="review_request_assignee")]
    return [(LegalRequest, index) for index in request_indexes] + [
        (ReviewState, index) for index in review_indexes
    ]


# --- Setup ---------------------------------------------------------------------------------


def database_recreate(database_url: str) -> None:
    """Drop and create the benchmark database (refusing any name without "bench")."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


def size_url(database_url: str, size: int) -> str:
    """The database of one size: the benchmark's name with the size after it."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{_database_name(database_url)}_{size}"))


def database_clone(template_url: str, database_url: str) -> None:
    """Create ``database_url`` as a copy of the migrated, seeded template (no connection to
    the template may be open)."""
    import psycopg

    name, template = _database_name(database_url), _database_name(template_url)
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    maintenance = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def database_drop(database_url: str) -> None:
    import psycopg

    name = _database_name(database_url)
    maintenance = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(database_url: str) -> bool:
    import psycopg

    maintenance = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [_database_name(database_url)]
        ).fetchone()
    return found is not None


def rows_check(size: int) -> None:
    """Stop unless the current database holds the requests of a filled ``size``."""
    from requests_app.lifecycle.models import LegalRequest

    found = LegalRequest.objects.filter(reference__startswith="LR-B-").count()
    if found != size:
        sys.exit(f"--reuse: the database holds {found:,} benchmark requests, not {size:,}")


def database_use(database_url: str) -> None:
    """Point Django's connection (and ``grow``'s VACUUM) at another database."""
    from django.db import connections

    connection = connections["default"]
    connection.close()
    connection.settings_dict["NAME"] = _database_name(database_url)
    os.environ["DATABASE_URL"] = database_url


def django_start(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.pop("PORTAL_MODE", None)
    import django

    django.setup()
    from django.conf import settings

    # Not setup_test_environment(): its template instrumentation (the test client copies
    # every template's context) would be timed too. Only the test client's host is added.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False


def indexes_create() -> list[str]:
    """Create each proposed index the migrations have not made; return the ones made."""
    from django.db import connection

    made = []
    with connection.schema_editor() as editor:
        for model, index in queue_indexes():
            with connection.cursor() as cursor:
                existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
            if index.name not in existing:
                editor.add_index(model, index)
                made.append(index.name)
    return made


def seed() -> None:
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Agency, AgencyDomain, Officer, Role, User

    now = timezone.now()
    hashed = make_password(PASSWORD)
    reviewers = User.objects.bulk_create(
        User(
            email=f"reviewer{i}@platform.bench",
            full_name=f"Reviewer {i:02d}",
            role=Role.REVIEWER,
            password=hashed,
        )
        for i in range(REVIEWERS)
    )
    TOTPDevice.objects.create(user=reviewers[0], name="Bench", confirmed=True)
    agencies = Agency.objects.bulk_create(
        Agency(
            name=f"Bench agency {i:03d}",
            country=COUNTRIES[i % len(COUNTRIES)],
            kind=Agency.Kind.POLICE,
            callback_phone="+4930123456",
            status=Agency.Status.VERIFIED,
            verified_at=now,
        )
        for i in range(AGENCIES)
    )
    AgencyDomain.objects.bulk_create(
        AgencyDomain(agency=a, domain=f"agency{i}.bench") for i, a in enumerate(agencies)
    )
    users = User.objects.bulk_create(
        User(
            email=f"officer@agency{i}.bench",
            full_name=f"Officer {i}",
            role=Role.OFFICER,
            password="!",  # unusable  # noqa: S106
        )
        for i in range(AGENCIES)
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


# One INSERT ... SELECT per size step. r1 picks the state, r2 the kind, r3 the agency
# (squared: a few agencies send most requests). Received one every 2 minutes back from
# now; 10 days to answer (1 for an emergency).
FILL_SQL = """
WITH numbers AS (
    SELECT g, random() AS r1, random() AS r2, random() AS r3
    FROM generate_series(%(start)s, %(stop)s) AS g
), rows AS (
    SELECT n.*, o.id AS officer_id, o.agency_id, a.country,
        CASE
            WHEN r1 < 0.010 THEN 'received' WHEN r1 < 0.020 THEN 'in_review'
            WHEN r1 < 0.025 THEN 'awaiting_clarification' WHEN r1 < 0.030 THEN 'approved'
            WHEN r1 < 0.130 THEN 'rejected' WHEN r1 < 0.430 THEN 'disclosed'
            WHEN r1 < 0.930 THEN 'closed' ELSE 'withdrawn'
        END AS status,
        CASE
            WHEN r2 < 0.02 THEN 'emergency' WHEN r2 < 0.30 THEN 'preservation'
            WHEN r2 < 0.70 THEN 'subscriber_data' WHEN r2 < 0.80 THEN 'court_order'
            WHEN r2 < 0.90 THEN 'search_warrant' ELSE 'eu_epoc'
        END AS kind,
        %(now)s::timestamptz - make_interval(mins => (2 * (%(stop_all)s - g))::int) AS received_at
    FROM numbers n
    JOIN (SELECT id, agency_id, row_number() OVER (ORDER BY id) - 1 AS i
          FROM accounts_officer) o ON o.i = floor(r3 * r3 * %(agencies)s)
    JOIN accounts_agency a ON a.id = o.agency_id
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
    '["ip_addresses", "phone_number"]', DATE '2026-01-01', DATE '2026-03-31',
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
            'period', jsonb_build_object('from', '2026-01-01', 'to', '2026-03-31'))),
    md5(g::text) || md5(g::text || 'p'), md5(g::text || 'e') || md5(g::text || 'f'),
    jsonb_build_object('alg', 'ed25519', 'key_id', 'ed25519:' || md5(officer_id::text),
                       'value', md5(g::text || 's') || md5(g::text || 't')),
    'ed25519:' || md5(officer_id::text), '', md5(g::text || 'nonce') || g,
    received_at - interval '2 seconds', received_at, received_at,
    received_at + CASE WHEN kind = 'emergency' THEN interval '1 day' ELSE interval '10 days' END,
    jsonb_build_object('reference', 'LR-B-' || lpad(to_hex(g), 8, '0'),
                       'payload_sha256', md5(g::text) || md5(g::text || 'p'),
                       'received_at', received_at, 'alg', 'ed25519', 'key_id', 'ed25519:portal',
                       'signature', md5(g::text || 'r') || md5(g::text || 'q'))
FROM rows
"""

# Review rows for everything a reviewer has touched: assigned round-robin, paused while
# awaiting clarification.
REVIEW_SQL = """
INSERT INTO requests_app_reviewstate (
    request_id, assignee_id, assigned_at, paused_since, paused_seconds,
    preservation_extended, non_disclosure_until
)
SELECT r.id, u.id, r.received_at + interval '1 hour',
       CASE WHEN r.status = 'awaiting_clarification'
            THEN r.received_at + interval '2 days' END,
       0, false, NULL
FROM requests_app_legalrequest r
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i
      FROM accounts_user WHERE role = 'reviewer') u ON u.i = r.id %% %(reviewers)s
WHERE r.id > %(after)s AND r.status <> 'received'
"""

# What ``review.services.clarification_ask`` records: the question came after the deadline.
PAUSED_LATE_SQL = """
UPDATE requests_app_legalrequest r SET paused_late = true
FROM requests_app_reviewstate s
WHERE s.request_id = r.id AND r.id > %(after)s AND r.status = 'awaiting_clarification'
  AND s.paused_since > r.due_at
"""


def grow(to_rows: int, have: int, now: datetime, stop_all: int) -> float:
    """Add requests have+1 .. to_rows; return the seconds it took (with VACUUM ANALYZE)."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(to_rows % 997) / 997])
        cursor.execute("SELECT coalesce(max(id), 0) FROM requests_app_legalrequest")
        after = cursor.fetchone()[0]
        cursor.execute(
            FILL_SQL,
            {
                "start": have + 1,
                "stop": to_rows,
                "stop_all": stop_all,
                "now": now,
                "agencies": AGENCIES,
            },
        )
        cursor.execute(REVIEW_SQL, {"after": after, "reviewers": REVIEWERS})
        cursor.execute(PAUSED_LATE_SQL, {"after": after})
    connection.close()  # VACUUM cannot run inside the connection's transaction block
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


# --- Measuring -----------------------------------------------------------------------------


def reviewer_client() -> Any:
    from django.test import Client
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__email="reviewer0@platform.bench")
    client = Client()
    response = client.post("/login/", {"username": device.user.email, "password": PASSWORD})
    if response.status_code != 302:
        sys.exit(f"the reviewer could not log in: {response.status_code}")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    response = client.post("/login/verify/", {"method": "totp", "code": f"{totp.token():06d}"})
    if response.status_code != 302:
        sys.exit(f"the reviewer's second factor was refused: {response.status_code}")
    return client


def scenarios(client: Any) -> dict[str, dict[str, str]]:
    """The pages to time: name -> query string parameters."""
    import re

    from accounts.models import Agency, User

    busiest = Agency.objects.order_by("pk").first()
    quiet = Agency.objects.order_by("-pk").first()
    colleague = User.objects.get(email="reviewer3@platform.bench")
    first = client.get("/review/").content.decode()
    cursor = re.search(r'after=([^"&]+)" rel="next"', first)
    page = {"after": cursor.group(1)} if cursor else {}
    return {
        "default (open work, most urgent first)": {},
        "next page": page,
        "state: in review": {"status": "in_review"},
        "state: closed (archive, 50% of rows)": {"status": "closed"},
        "every state (newest first)": {"status": "all"},
        "every state + kind": {"status": "all", "kind": "court_order"},
        "every state + a quiet agency": {"status": "all", "agency": str(quiet.pk) if quiet else ""},
        "closed + country": {"status": "closed", "country": "DE"},
        "kind: court order": {"kind": "court_order"},
        "country: DE": {"country": "DE"},
        "agency: the busiest": {"agency": str(busiest.pk) if busiest else ""},
        "agency: a quiet one": {"agency": str(quiet.pk) if quiet else ""},
        "agency + closed": {"agency": str(busiest.pk) if busiest else "", "status": "closed"},
        "due: within 48 hours": {"due": "48h"},
        "assigned to me": {"assignee": "mine"},
        "assigned to a colleague": {"assignee": str(colleague.pk)},
        "unassigned": {"assignee": "unassigned"},
        "sort: by country": {"sort": "country"},
        "sort: newest first": {"sort": "received"},
        "every state, most urgent first (unindexed)": {"status": "all", "sort": "urgency"},
    }


class QueryLog:
    """Count the SQL statements of a block, and the time spent in them (an execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


def page_queries(client: Any, params: dict[str, str], warmup: int) -> dict[str, Any]:
    """Warm a page up, then log the SQL of one request: statements, their time, rows."""
    from django.db import connection

    for _ in range(warmup):
        client.get("/review/", params)
    log = QueryLog()
    with connection.execute_wrapper(log):
        response = client.get("/review/", params)
    if response.status_code != 200:
        sys.exit(f"GET /review/ {params} answered {response.status_code}")
    rows = response.content.decode().split("<tbody>", 1)[1].count('<th scope="row">')
    return {"queries": log.count, "sql_ms": log.seconds * 1000, "rows": rows}


def page_times(client: Any, params: dict[str, str], requests: int) -> tuple[list, list]:
    """Wall-clock and CPU milliseconds of ``requests`` requests of one page."""
    times, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get("/review/", params)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return times, cpu


def count_times(requests: int) -> list[float]:
    """Milliseconds of the queue's counts (the states' statement and the overdue one)."""
    from django.utils import timezone

    from requests_app.review.selectors import _state_counts_capped

    now = timezone.now()
    _state_counts_capped(now)  # warm
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        _state_counts_capped(now)
        times.append((time.perf_counter() - started) * 1000)
    return times


def count_server_ms() -> list[float]:
    """The counts' two statements (the states, the overdue) as PostgreSQL times them
    (planning and execution, from ``EXPLAIN ANALYZE``), each: the server's own time,
    without the round trips and the client's waits for a CPU that dominate on a busy
    machine. A statement the code prepares is timed through its prepared statement
    (``EXPLAIN ANALYZE EXECUTE``), whose planning was done once, before."""
    import json

    from django.db import connection
    from django.utils import timezone

    from requests_app.review.selectors import _state_counts_capped

    statements: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        _state_counts_capped(timezone.now())
    each = []
    with connection.cursor() as cursor:
        for sql, params in statements:
            # A statement the code runs prepared (``portal.compiled.prepared_cursor``) is
            # timed as it runs: the plan PostgreSQL keeps for it on this connection.
            cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement = %s", [sql])
            prepared = cursor.fetchone()
            if prepared is not None:
                values = ", ".join(["%s"] * len(params or ()))
                name = connection.ops.quote_name(prepared[0])
                run = f"EXECUTE {name}({values})" if values else f"EXECUTE {name}"
            else:
                run = sql
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {run}", params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            each.append(plan[0]["Planning Time"] + plan[0]["Execution Time"])
    return each


def summary(times: list[float], cpu: list[float], logged: dict[str, Any]) -> dict[str, Any]:
    return {
        "median": statistics.median(times),
        "p95": statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0],
        "cpu": statistics.median(cpu),
        **logged,
    }


# --- Reporting -----------------------------------------------------------------------------


def report(results: dict[int, dict[str, dict[str, Any]]], meta: dict[str, Any]) -> str:
    sizes = sorted(results)
    names = list(results[sizes[0]])
    head = "| page | " + " | ".join(f"{size:,} rows: median / p95 (ms)" for size in sizes)
    lines = [
        "## Review queue (`bench/review_queue.py`)",
        "",
        f"Run {meta['when']} on {meta['machine']}; PostgreSQL {meta['postgres']}; "
        f"{meta['requests']} timed requests per page and size after {meta['warmup']} warm-up "
        "ones, through Django's test client in-process (middleware, session, second-factor "
        "check, queries and template; no network). **The sizes are measured interleaved in "
        f"one run: one database per size, {meta['rounds']} rounds, each round visiting every "
        "size (in alternating order) for an equal share of each page's requests.** 3% of "
        f"rows are open work at every size. Load average (1, 5, 15 min): {meta['load']}.",
        "",
        head + f" | Python CPU at {sizes[-1]:,} (ms) | queries | growth of the median |",
        "|---|" + "---|" * len(sizes) + "---|---|---|",
    ]
    for name in names:
        cells = [
            f"{results[size][name]['median']:.1f} / {results[size][name]['p95']:.1f}"
            for size in sizes
        ]
        growth = results[sizes[-1]][name]["median"] / results[sizes[0]][name]["median"]
        queries = results[sizes[-1]][name]["queries"]
        cpu = results[sizes[-1]][name]["cpu"]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {cpu:.1f} | {queries} | {growth:.2f}x |"
        )
    counts = meta["counts"]
    lines.append(
        "| the counts alone (`_state_counts_capped`: 8 states and the overdue, two "
        "statements) | "
        + " | ".join(f"{counts[size]['median']:.2f} / {counts[size]['p95']:.2f}" for size in sizes)
        + f" | | 2 | {counts[sizes[-1]]['median'] / counts[sizes[0]]['median']:.2f}x |"
    )
    lines.append(
        "| the counts' SQL in PostgreSQL (`EXPLAIN ANALYZE`: planning + execution, median; "
        "the states + the overdue; the states' statement prepared, as it runs) | "
        + " | ".join(
            f"{counts[size]['server']:.2f} ({counts[size]['server_each'][0]:.2f} + "
            f"{counts[size]['server_each'][1]:.2f})"
            for size in sizes
        )
        + f" | | 2 | {counts[sizes[-1]]['server'] / counts[sizes[0]]['server']:.2f}x |"
    )
    default = names[0]
    largest = results[sizes[-1]][default]["median"]
    growth = largest / results[sizes[0]][default]["median"]
    count_ms = counts[sizes[-1]]["server"]
    met = largest < AIM_MS and growth < AIM_GROWTH and count_ms < AIM_COUNT_MS
    if meta["busy"]:
        lines += [
            "",
            f"*The machine was busy when this run started (load average {meta['load']}, on "
            f"{os.cpu_count()} CPUs): the pages competed for the CPUs with other work, so the "
            "times are high and noisy, and the growth between sizes is mostly noise. The "
            "Python CPU column (time this process spent computing a page) is the steadier "
            "figure. Re-run on a quiet machine before relying on the times.*",
        ]
    lines += [
        "",
        f"Aim (issues 5 and 17): the default page's median under {AIM_MS:.0f} ms at the "
        f"largest size and growing less than {AIM_GROWTH:.0f}x from the smallest, the counts "
        f"SQL under {AIM_COUNT_MS:.0f} ms: {largest:.1f} ms, {growth:.2f}x, counts' SQL "
        f"{count_ms:.2f} ms in PostgreSQL ({counts[sizes[-1]]['median']:.2f} ms seen from "
        f"Django) at {sizes[-1]:,} rows: **{'met' if met else 'NOT met'}**"
        + ("" if sizes[-1] >= 1_000_000 else " (at this run's largest size, not at 1M)")
        + '. The counts stop at 1,000 (shown as "1000+"): bench/README.md says why.',
        "",
        "SQL time of one default page (from the query log): "
        + ", ".join(f"{size:,}: {results[size][default]['sql_ms']:.1f} ms" for size in sizes)
        + (
            ". Loading the rows: "
            + ", ".join(f"{size:,}: {meta['fill'][size]:.0f} s" for size in sizes)
            if meta["fill"]
            else ". The rows were not loaded by this run: it reused the databases of an earlier "
            "one (`--reuse`), migrated to the code measured"
        )
        + f". Indexes the benchmark created (not yet in the migrations): "
        f"{', '.join(meta['indexes_made']) or 'none'}.",
    ]
    return "\n".join(lines) + "\n"


def results_write(markdown: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; leave the rest alone."""
    section_write("review_queue.py", markdown)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4, help="rounds over the sizes")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the databases a run with --keep-database left (migrated to the current "
        "code, not filled again); they are kept",
    )
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    urls = {size: size_url(args.database_url, size) for size in sizes}

    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    if args.reuse:
        missing = [url for url in urls.values() if not database_exists(url)]
        if missing:
            sys.exit(f"--reuse: no database {', '.join(map(_database_name, missing))}")
        django_start(urls[sizes[0]])
    else:
        # The template: migrated, indexed and seeded once, then copied for every size.
        database_recreate(args.database_url)
        django_start(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    made: list[str] = []
    if not args.reuse:
        call_command("migrate", verbosity=0)
        made = indexes_create()
        seed()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    connection.close()
    now = datetime.now(UTC)
    fill: dict[int, float] = {}
    clients: dict[int, Any] = {}
    pages: dict[int, dict[str, dict[str, str]]] = {}
    for size in sizes:
        if args.reuse:
            # The rows stay as they were filled; the schema follows the code measured.
            database_use(urls[size])
            call_command("migrate", verbosity=0)
            made += [name for name in indexes_create() if name not in made]
            rows_check(size)
            connection.close()  # VACUUM cannot run inside the connection's transaction block
            import psycopg

            with psycopg.connect(urls[size], autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # what a migration rewrote, as autovacuum would
            print(f"reusing {urls[size]} ({size:,} requests)", flush=True)
        else:
            database_clone(args.database_url, urls[size])
            database_use(urls[size])
            print(f"filling {urls[size]} with {size:,} requests", flush=True)
            # Each database is a portal whose newest request came in just now.
            fill[size] = grow(size, 0, now, size)
        clients[size] = reviewer_client()  # one login per database
        pages[size] = scenarios(clients[size])
    names = list(pages[sizes[0]])

    logged: dict[int, dict[str, dict[str, Any]]] = {size: {} for size in sizes}
    # size -> page -> (wall times, CPU times), in ms
    times: dict[int, dict[str, tuple[list[float], list[float]]]] = {
        size: {name: ([], []) for name in names} for size in sizes
    }
    counts: dict[int, list[float]] = {size: [] for size in sizes}
    server: dict[int, list[list[float]]] = {size: [] for size in sizes}
    share = max(1, args.requests // args.rounds)
    for number in range(args.rounds):
        order = sizes if number % 2 == 0 else list(reversed(sizes))
        for size in order:
            database_use(urls[size])
            for name in names:
                if number == 0:
                    logged[size][name] = page_queries(clients[size], pages[size][name], args.warmup)
                wall, cpu = page_times(clients[size], pages[size][name], share)
                times[size][name][0].extend(wall)
                times[size][name][1].extend(cpu)
            counts[size].extend(count_times(share))
            server[size].extend(count_server_ms() for _ in range(max(3, share // 2)))
            default = statistics.median(times[size][names[0]][0])
            print(f"round {number + 1} {size:>9,}: default page {default:6.1f} ms", flush=True)
    results = {
        size: {name: summary(*times[size][name], logged[size][name]) for name in names}
        for size in sizes
    }
    for size in sizes:
        for name in names:
            r = results[size][name]
            print(
                f"{size:>9,} {name:42} median {r['median']:6.1f} ms  p95 {r['p95']:6.1f} ms  "
                f"Python CPU {r['cpu']:5.1f} ms  {r['queries']} queries  {r['rows']} rows"
            )
        states, overdue = (statistics.median(each) for each in zip(*server[size], strict=True))
        print(
            f"{size:>9,} counts: median {statistics.median(counts[size]):.2f} ms, in PostgreSQL "
            f"{statistics.median(map(sum, server[size])):.2f} ms (the states {states:.2f}, "
            f"the overdue {overdue:.2f})"
        )
    connection.close()
    if not (args.keep_database or args.reuse):
        database_use(args.database_url)
        connection.close()
        for url in [*urls.values(), args.database_url]:
            database_drop(url)
    load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
    meta = {
        "load": f"{load_before} before, {load_after} after",
        # Judged by the load before the run, as bench/intake.py does: during it, this process
        # and PostgreSQL keep about one CPU busy themselves, so the load after is never low.
        "busy": float(load_before.split()[0]) > (os.cpu_count() or 1) / 2,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "postgres": postgres,
        "requests": share * args.rounds,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "fill": fill,
        "indexes_made": made,
        "counts": {
            size: {
                "median": statistics.median(counts[size]),
                "p95": statistics.quantiles(counts[size], n=20)[18]
                if len(counts[size]) > 1
                else counts[size][0],
                "server": statistics.median(map(sum, server[size])),
                "server_each": [
                    statistics.median(each) for each in zip(*server[size], strict=True)
                ],
            }
            for size in sizes
        },
    }
    markdown = report(results, meta)
    print(markdown)
    if args.write:
        results_write(markdown)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
