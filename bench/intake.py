# ruff: noqa: S603, S607  (a benchmark starts its own processes, with fixed arguments)
"""Measure signed submissions per second through the real stack, against bare endpoints.

Run by hand (not in CI), from the repository root, with the project's virtualenv:

    .venv/bin/python bench/intake.py            # see bench/README.md for the options

What it does, in one run:

1. creates a PostgreSQL database for the benchmark (dropped and re-created; its name must
   contain "bench") and migrates it, empties one Redis database for the cache;
2. seeds one verified agency, one active officer with an active Ed25519 key and an API
   token, in production mode (``PORTAL_MODE=production``) with ``bench.settings``;
3. starts gunicorn (N sync workers) on loopback;
4. in a separate client process, pre-signs a bounded number of submissions (fresh nonce,
   RFC 8785, Ed25519, a one-page PDF attached) and posts them over C concurrent
   connections to each endpoint in turn, for at most a bounded time per phase;
5. alternates the endpoints over several rounds, checks every answer was a 201 and that
   the database holds exactly the accepted requests, and writes bench/RESULTS.md.

The endpoints: ``/api/v1/submissions`` (all of intake's checks), ``/api/bench/bare`` (the
same writes and receipt, no checks) and ``/api/bench/bare-row`` (one row, nothing else); see
bench/bare.py. The headlines are full / bare (what the checks together cost) and full /
bare-row (against a one-row create), each with its ratio per round.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where a sibling file could
# shadow a module of the standard library: put the repository there instead.
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import base64  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench._results import section_write  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
AUDIENCE = "https://portal.bench.invalid"
TARGETS = {
    "full": "/api/v1/submissions",
    "bare": "/api/bench/bare",
    "bare-row": "/api/bench/bare-row",
}
# Issue 17: the full endpoint makes at least this share of each baseline's submissions/s.
AIM_BARE = 0.85  # against the same writes without a check ("bare")
AIM_ROW = 0.50  # against a one-row create ("bare-row")


# --- Setup: database, cache, settings ----------------------------------------------------


def _maintenance_url(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


def database_recreate(database_url: str) -> None:
    """Drop and create the benchmark database (refusing any name without "bench")."""
    import psycopg

    maintenance, name = _maintenance_url(database_url)
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    import psycopg

    maintenance, name = _maintenance_url(database_url)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_counts(database_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        received = conn.execute(
            "SELECT count(*) FROM portal_auditevent WHERE action = 'legal_request.received'"
        ).fetchone()
        requests = conn.execute(
            "SELECT count(*) FROM requests_app_legalrequest WHERE payload_sha256 <> '' "
            "AND receipt ? 'signature'"
        ).fetchone()
        rows = conn.execute("SELECT count(*) FROM requests_app_legalrequest").fetchone()
        rejections = conn.execute("SELECT count(*) FROM requests_app_intakerejection").fetchone()
    return {
        "received_events": received[0] if received else -1,
        "requests_with_receipt": requests[0] if requests else -1,
        "rows": rows[0] if rows else -1,
        "rejections": rejections[0] if rejections else -1,
    }


def server_versions(database_url: str, redis_url: str) -> dict[str, str]:
    import psycopg
    import redis

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    info = redis.Redis.from_url(redis_url).info("server")
    return {"postgresql": row[0] if row else "?", "redis": str(info.get("redis_version", "?"))}


def cache_flush(redis_url: str) -> None:
    """Empty the benchmark's Redis database (only that one: FLUSHDB, never FLUSHALL)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def storage_key_write(path: Path) -> None:
    """The portal's storage key (an age identity), as age-keygen writes it."""
    import pyrage

    path.write_text(f"{pyrage.x25519.Identity.generate()}\n", encoding="ascii")
    path.chmod(0o600)


def portal_key_write(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def totp_seed_key_write(path: Path) -> None:
    """The key of stored TOTP seeds: 32 random bytes in base64, as README says."""
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n", encoding="ascii")
    path.chmod(0o600)


def portal_env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    """The environment of every portal process: production mode, the bench's services."""
    ours = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(ROOT),
        "PORTAL_MODE": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_AUDIENCE": AUDIENCE,
        "DATABASE_URL": args.database_url,
        "CACHE_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "EMAIL_URL": "consolemail://",
        "PORTAL_SIGNING_KEY_FILE": str(workdir / "portal-signing-key.pem"),
        "PORTAL_STORAGE_KEY_FILE": str(workdir / "portal-storage-key.txt"),
        "TOTP_SEED_KEY_FILE": str(workdir / "totp-seed-key.txt"),
        # Production has no default for it; intake never asks the platform for data.
        "PLATFORM_DATA_SOURCE": "http",
        "PLATFORM_API_URL": "https://lookup.platform.invalid",
        "SEALED_STORAGE_DIR": str(workdir / "sealed"),
        "STATIC_ROOT": str(workdir / "static"),
        # Plain HTTP on loopback: no TLS proxy in front of the benchmark.
        "SECURE_SSL_REDIRECT": "false",
        # The limits still run on every request (one Redis script) but must not refuse the
        # benchmark's one token. Each window keeps every submission it counted, so a
        # per-minute window would hold thousands of entries where production's limits
        # (30, 60, 120 a minute) hold at most 120: a one-second window keeps them about as
        # small as production's.
        "INTAKE_RATE_PER_TOKEN": "1000000/s",
        "INTAKE_RATE_PER_OFFICER": "1000000/s",
        "INTAKE_RATE_PER_ADDRESS": "1000000/s",
        "LOG_LEVEL": "WARNING",
        # Connections kept longer than a run lasts (production's default is 60 s): a backend
        # that closed mid-phase would take its CPU time out of the server's measure.
        "DATABASE_CONN_MAX_AGE": "3600",
    }
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ours and not k.startswith(("DJANGO_", "PYTEST_", "INTAKE_"))
    }
    return {**inherited, **ours}


# --- Seeding (runs inside Django, in its own process) -------------------------------------


def seed(spec_path: Path) -> None:
    """Create the agency, officer, key and token; write what the client needs to a file."""
    import django

    django.setup()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from django.utils import timezone

    from accounts.models import Agency, AgencyDomain, KeyStatus, Officer, Role, SigningKey, User
    from accounts.services.tokens import api_token_create
    from portal.crypto import ed25519_key_id, ed25519_public_key_pem

    now = timezone.now()
    agency = Agency.objects.create(
        name="Benchmark Police",
        country="DE",
        kind=Agency.Kind.POLICE,
        callback_phone="+4930123456",
        status=Agency.Status.VERIFIED,
        verified_at=now,
    )
    AgencyDomain.objects.create(agency=agency, domain="bench-police.example")
    user = User.objects.create_user(
        "officer@bench-police.example", None, full_name="Bench Officer", role=Role.OFFICER
    )
    officer = Officer.objects.create(
        user=user,
        agency=agency,
        title="Inspector",
        badge_number="B-1",
        status=Officer.Status.ACTIVE,
        email_verified_at=now,
    )
    # The bare endpoints insert in another officer's name, so that the look-ups intake
    # makes among the submitting officer's requests see only that officer's own.
    bare_user = User.objects.create_user(
        "bare@bench-police.example", None, full_name="Bare Officer", role=Role.OFFICER
    )
    bare_officer = Officer.objects.create(
        user=bare_user,
        agency=agency,
        title="Inspector",
        badge_number="B-2",
        status=Officer.Status.ACTIVE,
        email_verified_at=now,
    )
    private_key = Ed25519PrivateKey.generate()
    key = SigningKey.objects.create(
        officer=officer,
        public_key_pem=ed25519_public_key_pem(private_key.public_key()),
        key_id=ed25519_key_id(private_key.public_key()),
        status=KeyStatus.ACTIVE,
    )
    token = api_token_create(officer=officer, actor=user, name="Benchmark").secret
    spec_path.write_text(
        json.dumps(
            {
                "officer_id": officer.pk,
                "bare_officer_id": bare_officer.pk,
                "token": token,
                "key_id": key.key_id,
                "private_key_pem": private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
            }
        )
    )
    spec_path.chmod(0o600)


# --- The client (its own process) ---------------------------------------------------------


def _pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Production order PF-2026-0412"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _multipart(envelope: bytes, document: bytes, boundary: str) -> bytes:
    parts = [
        (b'name="envelope"; filename="envelope.json"', b"application/json", envelope),
        (b'name="attachment"; filename="order.pdf"', b"application/pdf", document),
    ]
    body = b""
    for disposition, media_type, content in parts:
        body += (
            b"--" + boundary.encode() + b"\r\n"
            b"Content-Disposition: form-data; " + disposition + b"\r\n"
            b"Content-Type: " + media_type + b"\r\n\r\n" + content + b"\r\n"
        )
    return body + b"--" + boundary.encode() + b"--\r\n"


def signed_envelopes(spec: dict[str, Any], count: int, document: bytes) -> list[bytes]:
    """``count`` envelopes, each a freshly signed submission declaring ``document``."""
    import hashlib

    import rfc8785
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(spec["private_key_pem"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)  # noqa: S101  (the seed wrote it)
    declared = {
        "filename": "order.pdf",
        "media_type": "application/pdf",
        "sha256": hashlib.sha256(document).hexdigest(),
        "size": len(document),
    }
    signed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    envelopes = []
    for _ in range(count):
        payload: dict[str, Any] = {
            "portal": AUDIENCE,
            "nonce": secrets.token_urlsafe(24),
            "signed_at": signed_at,
            "request": {
                "kind": "subscriber_data",
                "case_reference": "PF-2026-0412",
                "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
                "issuing_authority": {
                    "name": "Judge A. Example",
                    "role": "judge",
                    "contact": "+49 30 1234 0",
                },
                "offence": "fraud",
                "targets": [{"type": "username", "value": "suspect_one"}],
                "data_categories": ["ip_addresses", "phone_number"],
                "period": {"from": "2026-01-01", "to": "2026-03-31"},
                "attachments": [declared],
            },
        }
        signature = key.sign(rfc8785.dumps(payload))
        envelope = {
            "payload": payload,
            "signature": {
                "alg": "ed25519",
                "key_id": spec["key_id"],
                "value": base64.b64encode(signature).decode(),
            },
        }
        envelopes.append(json.dumps(envelope).encode())
    return envelopes


def client(args: argparse.Namespace) -> None:
    """Post pre-signed submissions to one endpoint; print a JSON summary on stdout."""
    spec = json.loads(Path(args.spec).read_text())
    document = _pdf()
    bodies = [
        _multipart(envelope, document, "bench" + secrets.token_hex(8))
        for envelope in signed_envelopes(spec, args.requests, document)
    ]
    headers_common = {"Authorization": f"Bearer {spec['token']}", "Connection": "close"}
    path = TARGETS[args.target]
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    first_error: list[str] = []
    deadline = time.monotonic() + args.seconds

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            body = bodies[index]
            boundary = body[2 : body.index(b"\r\n")].decode()
            headers = {
                **headers_common,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(body)),
            }
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                conn.close()
                status = response.status
            except OSError as exc:
                status, answer = 0, str(exc).encode()
            elapsed = time.perf_counter() - started
            with lock:
                statuses[status] += 1
                latencies.append(elapsed)
                if status != 201 and not first_error:
                    first_error.append(f"{status} {answer[:300]!r}")

    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "target": args.target,
                "sent": sum(statuses.values()),
                "created": statuses[201],
                "statuses": {str(k): v for k, v in sorted(statuses.items())},
                "seconds": elapsed,
                "per_second": statuses[201] / elapsed if elapsed else 0.0,
                "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
                "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
                "first_error": first_error[0] if first_error else "",
            }
        )
    )


# --- Where the time goes (in-process, one request at a time) -------------------------------

# The functions timed, by module and attribute; names that no longer exist are skipped.
TIMED = [
    ("rest_framework.views", "APIView.dispatch", "the whole view"),
    ("accounts.authentication", "api_token_authenticate", "bearer token"),
    ("rest_framework.views", "APIView.check_throttles", "rate limits (one Redis script)"),
    ("requests_app.intake.pipeline", "envelope_parse", "1 parse, schema, RFC 8785"),
    (
        "requests_app.intake.pipeline",
        "api_sender",
        "2 key, with the nonce and the rule (one query)",
    ),
    ("requests_app.intake.pipeline", "ed25519_signature_check", "3 signature"),
    ("requests_app.intake.pipeline", "freshness_check", "4 audience, clock, nonce"),
    ("requests_app.intake.pipeline", "attachments_check", "5 attachments (hash, PDF)"),
    ("requests_app.intake.pipeline", "policy_rule_check", "6 policy (the rule read in step 2)"),
    ("requests_app.intake.pipeline", "_create", "the writes, receipt, audit, commit"),
]


def steps(args: argparse.Namespace) -> None:
    """Time intake's steps and count queries for each endpoint; print JSON on stdout."""
    import functools
    import importlib

    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    spent: defaultdict[str, float] = defaultdict(float)
    wrapped: list[tuple[Any, str, Any]] = []  # (owner, name, original), to undo
    for module_name, attribute, label in TIMED:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name, None)
        if original is None:
            continue

        def timed(*a: Any, _f: Any = original, _label: str = label, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - started

        wrapped.append((owner, name, original))
        setattr(owner, name, functools.wraps(original)(timed))

    spec = json.loads(Path(args.spec).read_text())
    document = _pdf()
    browser = Client()

    def post(target: str, envelope: bytes) -> None:
        files = {
            "envelope": SimpleUploadedFile("envelope.json", envelope, "application/json"),
            "attachment": SimpleUploadedFile("order.pdf", document, "application/pdf"),
        }
        answer = browser.post(
            TARGETS[target], files, headers={"authorization": f"Bearer {spec['token']}"}
        )
        if answer.status_code != 201:
            raise SystemExit(f"{target}: {answer.status_code} {answer.content[:300]!r}")

    report: dict[str, Any] = {"per_request_ms": {}, "queries": {}, "steps_ms": {}}
    for target in TARGETS:
        envelopes = signed_envelopes(spec, args.requests + 20, document)
        for envelope in envelopes[:20]:  # warm-up
            post(target, envelope)
        with CaptureQueriesContext(connection) as queries:
            post(target, envelopes[20])
        report["queries"][target] = len(
            [
                q
                for q in queries.captured_queries
                if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
            ]
        )
        spent.clear()
        started = time.perf_counter()
        for envelope in envelopes[21:]:
            post(target, envelope)
        count = len(envelopes) - 21
        report["per_request_ms"][target] = 1000 * (time.perf_counter() - started) / count
        if target == "full":
            report["steps_ms"] = {
                label: 1000 * spent[label] / count for _, _, label in TIMED if label in spent
            }
    for owner, name, original in wrapped:  # the code as it ships, for what follows
        setattr(owner, name, original)
    report["alternating"] = alternating(spec, args.requests * 2, document)
    from requests_app.lifecycle.models import LegalRequest

    report["officer_requests"] = LegalRequest.objects.filter(officer_id=spec["officer_id"]).count()
    print(json.dumps(report))


def _schedstat_ns(pid: int) -> int:
    """The CPU time a process's main thread has used, in nanoseconds (its scheduler's
    own count, finer than /proc's clock ticks)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def wsgi_poster(token: str) -> Any:
    """A function that sends one multipart body to a path through the portal's WSGI
    application, as gunicorn would call it, without a socket or an HTTP parser: the
    code that ships, and little of a harness's own (Django's test client builds and
    inspects far more per request than gunicorn does)."""
    import io

    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Any:
        answer["status"] = status
        return lambda data: None

    answer: dict[str, str] = {}

    def post(path: str, body: bytes) -> None:
        boundary = body[2 : body.index(b"\r\n")].decode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        response = application(environ, start_response)
        try:
            content = b"".join(response)
        finally:
            getattr(response, "close", lambda: None)()
        if not answer["status"].startswith("201"):
            raise SystemExit(f"{path}: {answer['status']} {content[:300]!r}")

    return post


def alternating(spec: dict[str, Any], count: int, document: bytes) -> dict[str, Any]:
    """The endpoints' costs with the requests alternating one by one (full, bare, bare-row,
    full, ...), so that a change of the machine's speed falls on all three alike: per
    endpoint, the wall time and the CPU time of this process, of its PostgreSQL backend
    and of redis-server, per request, in batches whose ratios give the spread. The
    requests go to the WSGI application directly (``wsgi_poster``)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    redis_pids = [pid for pid in _live_pids() if _is_redis(_proc_cmdline(pid))]
    post = wsgi_poster(spec["token"])
    bodies = {
        target: [
            _multipart(envelope, document, "bench" + secrets.token_hex(8))
            for envelope in signed_envelopes(spec, count, document)
        ]
        for target in TARGETS
    }
    for target in TARGETS:  # the first request of each endpoint through this application
        post(TARGETS[target], bodies[target].pop())
    batches = 10
    per_batch = max(1, (count - 1) // batches)
    kinds = ("wall", "portal", "database", "redis")
    totals = {target: dict.fromkeys(kinds, 0.0) for target in TARGETS}
    batch_cpu: list[dict[str, float]] = []
    for batch in range(batches):
        cpu_of_batch = dict.fromkeys(TARGETS, 0.0)
        for index in range(batch * per_batch, (batch + 1) * per_batch):
            for target in TARGETS:
                database_ns = _schedstat_ns(backend)
                redis_ns = sum(_schedstat_ns(pid) for pid in redis_pids)
                cpu, wall = time.thread_time(), time.perf_counter()
                post(TARGETS[target], bodies[target][index])
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                database = (_schedstat_ns(backend) - database_ns) / 1e9
                redis = (sum(_schedstat_ns(pid) for pid in redis_pids) - redis_ns) / 1e9
                for kind, value in zip(kinds, (wall, cpu, database, redis), strict=True):
                    totals[target][kind] += value
                cpu_of_batch[target] += cpu + database + redis
        batch_cpu.append(cpu_of_batch)
    done = batches * per_batch
    return {
        "requests": done,
        "ms": {
            target: {kind: 1000 * value / done for kind, value in cost.items()}
            for target, cost in totals.items()
        },
        # Per batch, by CPU (this process, its backend, Redis): bare / full, bare-row / full.
        "batch_ratios": [
            (b["bare"] / b["full"], b["bare-row"] / b["full"]) for b in batch_cpu if b["full"]
        ],
    }


# --- The run ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _this(*arguments: str) -> list[str]:
    """The command line that runs this file with a subcommand."""
    return [sys.executable, str(Path(__file__).resolve()), *arguments]


def gunicorn_start(args: argparse.Namespace, env: dict[str, str], port: int) -> subprocess.Popen:
    """Start gunicorn in its own session (so it and its workers stop together)."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi:application",
        *("--workers", str(args.workers), "--worker-class", "sync"),
        *("--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "120"),
        *("--log-level", "warning"),
    ]
    server = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/portal-key")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    gunicorn_stop(server)
    sys.exit("gunicorn did not start serving in time")


def gunicorn_stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# --- The server's CPU time (gunicorn's workers, the database's backends, Redis) -----------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float | None:
    """The CPU seconds (user and system) a live process has used, or ``None``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def _proc_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _live_pids() -> list[int]:
    """The processes running now (``/proc``'s numbered entries)."""
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _is_redis(command: str) -> bool:
    """Whether a process's command line (``_proc_cmdline``) is redis-server's."""
    return command.startswith("redis-server")


def server_processes(gunicorn_pid: int, database: str) -> list[int]:
    """What serves a submission: gunicorn's master and workers (its process group), the
    PostgreSQL backends connected to the benchmark's database, and redis-server."""
    found = []
    for pid in _live_pids():
        try:
            if os.getpgid(pid) == gunicorn_pid:
                found.append(pid)
                continue
        except OSError:
            continue
        command = _proc_cmdline(pid)
        if (command.startswith("postgres: ") and f" {database} " in command) or _is_redis(command):
            found.append(pid)
    return found


class ServerCpu:
    """The CPU seconds the server's processes used between ``start`` and ``stop``.

    Processes are listed again at the end: a backend that appears during the phase counts
    from its start. One that exits during it would lose its time, so the run keeps the
    database connections open longer than a phase lasts (``DATABASE_CONN_MAX_AGE``).
    """

    def __init__(self, gunicorn_pid: int, database: str) -> None:
        self.gunicorn_pid, self.database = gunicorn_pid, database
        self.before: dict[int, float] = {}

    def _read(self) -> dict[int, float]:
        found = {}
        for pid in server_processes(self.gunicorn_pid, self.database):
            used = _proc_cpu(pid)
            if used is not None:
                found[pid] = used
        return found

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> float:
        after = self._read()
        return sum(used - self.before.get(pid, 0.0) for pid, used in after.items())


def run_phase(
    args: argparse.Namespace,
    spec_path: Path,
    port: int,
    target: str,
    count: int,
    meter: "ServerCpu | None" = None,
):
    """Run one client process against one endpoint; return its summary, with the server's
    CPU seconds during it when ``meter`` is given."""
    command = _this(
        "client",
        *("--spec", str(spec_path), "--port", str(port), "--target", target),
        *("--requests", str(count), "--seconds", str(args.seconds)),
        *("--clients", str(args.clients)),
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The client signs its submissions before it sends any (the server is idle then).
    if meter is not None:
        meter.start()
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=args.seconds + 300, env=env
    )
    summary = json.loads(done.stdout)
    if meter is not None:
        summary["server_cpu_s"] = meter.stop()
    return summary


def _git(*arguments: str) -> str:
    done = subprocess.run(
        ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_per_submission(phase: dict[str, Any]) -> float:
    """The server's CPU seconds per accepted submission in one phase."""
    return phase["server_cpu_s"] / phase["created"] if phase["created"] else 0.0


def totals(phases: list[dict[str, Any]], target: str) -> dict[str, Any]:
    mine = [p for p in phases if p["target"] == target]
    created = sum(p["created"] for p in mine)
    seconds = sum(p["seconds"] for p in mine)
    cpu = sum(p["server_cpu_s"] for p in mine)
    return {
        "cpu_ms": 1000 * cpu / created if created else 0.0,
        "cpu_rounds": [round(1000 * cpu_per_submission(p), 2) for p in mine],
        "sent": sum(p["sent"] for p in mine),
        "created": created,
        "seconds": seconds,
        "per_second": created / seconds if seconds else 0.0,
        "p50_ms": statistics.median([p["p50_ms"] for p in mine]),
        "p95_ms": statistics.median([p["p95_ms"] for p in mine]),
        "rounds": [round(p["per_second"], 1) for p in mine],
    }


def round_ratios(phases: list[dict[str, Any]], by: str = "rate") -> list[tuple[float, float]]:
    """Per round: (full / bare, full / bare-row), from the three phases of that round, by
    submissions per second, or by the server's CPU time per submission (``by="cpu"``:
    the baseline's cost over full's, so that both read "full makes this share")."""
    ratios = []
    for start in range(0, len(phases) - len(TARGETS) + 1, len(TARGETS)):
        mine = phases[start : start + len(TARGETS)]
        if by == "cpu":
            cost = {p["target"]: cpu_per_submission(p) for p in mine}
            if cost.get("full"):
                ratios.append((cost["bare"] / cost["full"], cost["bare-row"] / cost["full"]))
            continue
        rate = {p["target"]: p["per_second"] for p in mine}
        if rate.get("bare") and rate.get("bare-row"):
            ratios.append((rate["full"] / rate["bare"], rate["full"] / rate["bare-row"]))
    return ratios


WHAT = {
    "full": "every intake check, the writes, the receipt",
    "bare": "the same writes and receipt, no checks",
    "bare-row": "one `LegalRequest` row, nothing else",
}


def results_markdown(
    args: argparse.Namespace, facts: dict[str, Any], phases: list, breakdown: dict[str, Any]
) -> str:
    summary = {target: totals(phases, target) for target in TARGETS}
    full, bare, row = summary["full"], summary["bare"], summary["bare-row"]
    ratio = full["per_second"] / bare["per_second"] if bare["per_second"] else 0.0
    ratio_row = full["per_second"] / row["per_second"] if row["per_second"] else 0.0
    rounds = round_ratios(phases)
    cpu_rounds = round_ratios(phases, by="cpu")
    cpu_ratio = bare["cpu_ms"] / full["cpu_ms"] if full["cpu_ms"] else 0.0
    cpu_ratio_row = row["cpu_ms"] / full["cpu_ms"] if full["cpu_ms"] else 0.0
    lines = [
        "## Intake: signed submissions per second",
        "",
        "Written by `bench/intake.py` (how to run it: `bench/README.md`). **Baselines, "
        "measured in the same run, rounds alternating: `bare` (the same writes and receipt, "
        "no check) and `bare-row` (a one-row create).** Numbers from one machine are "
        "comparable with each other, not with another machine's.",
        "",
        f"**full / bare = {ratio:.2f} (aim at least {AIM_BARE:.2f}: "
        f"{'met' if ratio >= AIM_BARE else 'not met'}); full / bare-row = {ratio_row:.2f} "
        f"(aim at least {AIM_ROW:.2f}: {'met' if ratio_row >= AIM_ROW else 'not met'}).** "
        f"The full endpoint made {full['per_second']:.1f} submissions/s, bare "
        f"{bare['per_second']:.1f}/s, bare-row {row['per_second']:.1f}/s. By round: full / "
        f"bare {', '.join(f'{r[0]:.2f}' for r in rounds)}; full / bare-row "
        f"{', '.join(f'{r[1]:.2f}' for r in rounds)}. Load average (1, 5, 15 min) "
        f"{facts['load_before']} before, {facts['load_after']} after.",
        "",
        f"**By the server's CPU time per submission** (gunicorn's workers, the database's "
        f"backends and Redis, read from `/proc`; the client left out): full "
        f"{full['cpu_ms']:.2f} ms, bare {bare['cpu_ms']:.2f} ms, bare-row "
        f"{row['cpu_ms']:.2f} ms, so full costs what **{cpu_ratio:.2f}** of bare's "
        f"submissions cost and {cpu_ratio_row:.2f} of bare-row's. By round: "
        f"{', '.join(f'{r[0]:.2f}' for r in cpu_rounds)} and "
        f"{', '.join(f'{r[1]:.2f}' for r in cpu_rounds)}. It leaves out the client's share "
        "of the CPUs and the time spent waiting; where the CPUs' own speed drifts between "
        "phases, it drifts with them (the alternating measure below does not).",
        "",
    ]
    if facts["busy"]:
        lines += [
            f"*The machine was busy when this run started (load average "
            f"{facts['load_before']} on {facts['cpus']} CPUs): every "
            "endpoint competed for the CPUs with other work, so the absolute numbers are "
            "low and the ratio is noisy. Re-run on a quiet machine before relying on it.*",
            "",
        ]
    lines += [
        "| endpoint | does | requests | 201 | s | per second | by round | p50 ms | p95 ms "
        "| server CPU ms each | by round |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for target, path in TARGETS.items():
        t = summary[target]
        lines.append(
            f"| `{path}` | {WHAT[target]} | {t['sent']} | {t['created']} | {t['seconds']:.1f} "
            f"| {t['per_second']:.1f} | {', '.join(map(str, t['rounds']))} "
            f"| {t['p50_ms']:.1f} | {t['p95_ms']:.1f} | {t['cpu_ms']:.2f} "
            f"| {', '.join(map(str, t['cpu_rounds']))} |"
        )
    lines += [
        "",
        "### Where the time goes",
        "",
        "The same requests, one at a time, in one process (Django's test client, no HTTP",
        "server, no concurrency), after the HTTP rounds: milliseconds per request and SQL",
        "statements per request (savepoints not counted).",
        "",
        "| endpoint | ms per request | SQL statements |",
        "|---|---:|---:|",
    ]
    for target, path in TARGETS.items():
        lines.append(
            f"| `{path}` | {breakdown['per_request_ms'][target]:.2f} "
            f"| {breakdown['queries'][target]} |"
        )
    alt = breakdown["alternating"]
    cost = {
        target: sum(alt["ms"][target][kind] for kind in ("portal", "database", "redis"))
        for target in TARGETS
    }
    wall = {target: alt["ms"][target]["wall"] for target in TARGETS}
    lines += [
        "",
        f"Then {alt['requests']} requests to each endpoint, **alternating one by one** (full, "
        "bare, bare-row, full, ...), so that a change in the machine's speed falls on all "
        "three alike; milliseconds per request of wall time, and of CPU time: the "
        "portal's process, its PostgreSQL backend and redis-server (their own scheduler "
        "counts, `/proc/<pid>/schedstat`).",
        "",
        "| endpoint | wall ms | portal CPU ms | PostgreSQL CPU ms | Redis CPU ms | CPU in all |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for target, path in TARGETS.items():
        ms = alt["ms"][target]
        lines.append(
            f"| `{path}` | {ms['wall']:.2f} | {ms['portal']:.2f} | {ms['database']:.2f} "
            f"| {ms['redis']:.3f} | {cost[target]:.2f} |"
        )
    ratios = alt["batch_ratios"]
    lines += [
        "",
        f"Alternating, **bare / full = {cost['bare'] / cost['full']:.2f} by CPU** "
        f"({wall['bare'] / wall['full']:.2f} by wall time), bare-row / full = "
        f"{cost['bare-row'] / cost['full']:.2f} ({wall['bare-row'] / wall['full']:.2f}); "
        f"by CPU in ten batches: {min(r[0] for r in ratios):.2f} to "
        f"{max(r[0] for r in ratios):.2f} and {min(r[1] for r in ratios):.2f} to "
        f"{max(r[1] for r in ratios):.2f}. One request at a time, without HTTP, the "
        "share the checks take is larger than over HTTP, where the server's and the "
        "client's work for each request is the same for all three endpoints.",
    ]
    lines += [
        "",
        "Inside the full endpoint: each step's own time, nested steps included in their",
        "parents; the view's total includes DRF's and Django's own work. The submitting",
        f"officer had {breakdown['officer_requests']:,} requests in the table by the end.",
        "",
        "| step | ms per request |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {ms:.2f} |" for label, ms in breakdown["steps_ms"].items()]
    lines += [
        "",
        "### The run",
        "",
        f"- when: {facts['when']}",
        f"- code: `{facts['commit']}`{' with uncommitted changes' if facts['dirty'] else ''}",
        f"- command: `{facts['command']}`",
        f"- machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['system']}; everything "
        "(gunicorn, PostgreSQL, Redis, the client) on this one machine, over loopback; "
        f"load average (1, 5, 15 min) {facts['load_before']} before, {facts['load_after']} "
        "after",
        f"- Python {facts['python']}, PostgreSQL {facts['postgresql']}, "
        f"Redis {facts['redis']}, gunicorn {facts['gunicorn']}",
        f"- server: gunicorn, {args.workers} sync workers, `PORTAL_MODE=production` with "
        "`bench.settings` (the portal's settings plus the bare URLs), a PostgreSQL "
        "database created for the run, the Redis cache (rate-limit counters, limits raised "
        "so that none refuses)",
        f"- client: one separate process, {args.clients} concurrent connections, a new "
        f"connection per request; at most {args.requests} requests or {args.seconds:g} s "
        f"per phase; {args.rounds} rounds, endpoints in alternating order, after "
        f"{args.warmup} warm-up requests each",
        "- each request: a freshly signed submission (new nonce, RFC 8785, Ed25519), "
        f"an envelope of {facts['envelope_bytes']} bytes and a {facts['pdf_bytes']}-byte "
        "one-page PDF, posted as multipart; the same bodies for every endpoint",
        f"- checked after the run: {facts['check']}",
        "",
    ]
    return "\n".join(lines)


def results_write(markdown: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; leave the rest alone."""
    section_write("intake.py", markdown)


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    for folder in ("sealed", "static"):
        (workdir / folder).mkdir()
    portal_key_write(workdir / "portal-signing-key.pem")
    storage_key_write(workdir / "portal-storage-key.txt")
    totp_seed_key_write(workdir / "totp-seed-key.txt")
    env = portal_env(args, workdir)
    load_before = _load()
    print(f"database {args.database_url}, cache {args.redis_url}, files in {workdir}")
    database_recreate(args.database_url)
    cache_flush(args.redis_url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    spec_path = workdir / "client.json"
    subprocess.run(_this("seed", "--spec", str(spec_path)), env=env, check=True)
    spec = json.loads(spec_path.read_text())
    env["BENCH_OFFICER_ID"] = str(spec["bare_officer_id"])

    port = args.port or _free_port()
    server = gunicorn_start(args, env, port)
    phases: list[dict[str, Any]] = []
    try:
        print(f"gunicorn {server.pid} serving on 127.0.0.1:{port} with {args.workers} workers")
        for target in TARGETS:
            warm = run_phase(args, spec_path, port, target, args.warmup)
            print(f"warm-up {target:8} {warm['per_second']:7.1f}/s {warm['statuses']}")
        meter = ServerCpu(server.pid, _maintenance_url(args.database_url)[1])
        for number in range(args.rounds):
            order = list(TARGETS) if number % 2 == 0 else list(reversed(TARGETS))
            for target in order:
                phase = run_phase(args, spec_path, port, target, args.requests, meter)
                phases.append(phase)
                print(
                    f"round {number + 1} {target:8} {phase['per_second']:7.1f}/s "
                    f"p50 {phase['p50_ms']:6.1f} ms p95 {phase['p95_ms']:6.1f} ms "
                    f"server CPU {1000 * cpu_per_submission(phase):5.2f} ms "
                    f"{phase['statuses']} {phase['first_error']}"
                )
    finally:
        gunicorn_stop(server)
    load_after = _load()

    counts = database_counts(args.database_url)
    expected = args.warmup + sum(p["created"] for p in phases if p["target"] == "full")
    failures = [p for p in phases if p["created"] != p["sent"]]
    check = (
        f"every answer a 201: {'yes' if not failures else 'NO'}; "
        f"`legal_request.received` audit events {counts['received_events']} "
        f"= full-endpoint 201s {expected} (warm-up included): "
        f"{'yes' if counts['received_events'] == expected else 'NO'}; "
        f"intake rejections: {counts['rejections']}"
    )
    print(check)
    if failures or counts["received_events"] != expected:
        print(
            f"the run had failures: RESULTS.md not written; database kept: {args.database_url}",
            file=sys.stderr,
        )
        return 1

    print("timing the steps in-process")
    steps_env = {**env, "ALLOWED_HOSTS": "testserver,localhost"}
    done = subprocess.run(
        _this("steps", "--spec", str(spec_path), "--requests", str(args.step_requests)),
        env=steps_env,
        capture_output=True,
        text=True,
        check=True,
    )
    breakdown = json.loads(done.stdout)

    import gunicorn

    document = _pdf()
    facts = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain")),
        "command": " ".join(["python bench/intake.py", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "load_before": load_before,
        "load_after": load_after,
        # The load before the run is others' work; after it, the benchmark's own counts.
        "busy": float(load_before.split()[0]) > 0.5 * (os.cpu_count() or 1),
        "python": platform.python_version(),
        "gunicorn": gunicorn.__version__,
        "envelope_bytes": len(signed_envelopes(spec, 1, document)[0]),
        "pdf_bytes": len(document),
        "check": check,
        **server_versions(args.database_url, args.redis_url),
    }
    if not args.keep_database:
        database_drop(args.database_url)
        shutil.rmtree(workdir)  # the keys and the token of the run
    markdown = results_markdown(args, facts, phases, breakdown)
    if args.write:
        results_write(markdown)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    print(markdown)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    run_args = sub.add_parser("run", help="the benchmark (the default)")
    for p in (parser, run_args):
        p.add_argument("--workers", type=int, default=os.cpu_count() or 2)
        p.add_argument("--clients", type=int, default=8, help="concurrent connections")
        p.add_argument("--requests", type=int, default=1000, help="at most, per phase")
        p.add_argument("--seconds", type=float, default=20, help="at most, per phase")
        p.add_argument("--rounds", type=int, default=5)
        p.add_argument("--warmup", type=int, default=60, help="requests per endpoint")
        p.add_argument(
            "--step-requests", type=int, default=150, help="per endpoint, for the breakdown"
        )
        p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/portal_bench")
        p.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
        p.add_argument("--port", type=int, default=0, help="default: a free port")
        p.add_argument("--keep-database", action="store_true")
        p.add_argument(
            "--no-write", dest="write", action="store_false", help="do not write RESULTS.md"
        )
    seed_args = sub.add_parser("seed", help=argparse.SUPPRESS)
    seed_args.add_argument("--spec", required=True)
    steps_args = sub.add_parser("steps", help=argparse.SUPPRESS)
    steps_args.add_argument("--spec", required=True)
    steps_args.add_argument("--requests", type=int, required=True)
    client_args = sub.add_parser("client", help=argparse.SUPPRESS)
    client_args.add_argument("--spec", required=True)
    client_args.add_argument("--port", type=int, required=True)
    client_args.add_argument("--target", choices=list(TARGETS), required=True)
    client_args.add_argument("--requests", type=int, required=True)
    client_args.add_argument("--seconds", type=float, required=True)
    client_args.add_argument("--clients", type=int, required=True)
    args = parser.parse_args()
    if args.command == "seed":
        seed(Path(args.spec))
        return 0
    if args.command == "client":
        client(args)
        return 0
    if args.command == "steps":
        steps(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
