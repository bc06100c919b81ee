# ruff: noqa: S603, S607  (a benchmark starts git and its own processes, with fixed arguments)
"""The audit log's cost: audited commits per second against the same commits without the
audit write, with 1, 4 and 16 concurrent writers; and the sequencer's time for 10,000 events.

Baseline, measured in the same run: ``plain``, the very same transactions without the
audit write. A transaction has the shape of the portal's audited changes (a review
step, a withdrawal), written with the ORM as the portal's services are: lock the
writer's own row (``select_for_update().get()``), change and ``save()`` it, create a
history row, commit. Each writer has its own row: the transactions do not contend with
each other, so whatever contention appears is the audit write's. Compared with it:

``audited``
    The same transaction plus ``portal.audit.audit_append`` (one more INSERT, no lock):
    what every audited change of the portal costs now.
``head-lock``
    For reference only: the same plus the former chain's pattern, one shared row read
    ``FOR UPDATE`` and updated in each transaction (an emulation of the chain head in a
    table of this benchmark's own; the portal no longer has it).

Each writer is a process of its own with its own connection; all start together and
commit as fast as they can for ``--seconds``. Kinds alternate within each round, rounds
are repeated (``--rounds``), and the ratio is the median of the per-round ratios (each
round's kinds ran side by side, under the same load). Then the sequencer: ``--events``
new events inserted, ``portal.sequencer.audit_sequence`` timed putting them into the tree
(on top of everything the writers left), ``--sequencer-rounds`` times.

Aims (issue 16): 16 writers audited at least 0.8 of plain; 10,000 events sequenced in
under 2 s. PostgreSQL only (its own database, dropped and re-created; the name must
contain "bench"):

    .venv/bin/python bench/audit.py                      # about 3 minutes, writes RESULTS.md
    .venv/bin/python bench/audit.py --seconds 2 --rounds 1 --no-write

Run by hand, not in CI, on a machine as quiet as can be: the results state the load
average before and after.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

from bench._results import section_write  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_audit"
WRITERS = (1, 4, 16)
KINDS = ("plain", "audited", "head-lock")
RATIO_AIM = 0.8
MODELS: tuple[Any, Any] = (None, None)  # set once Django is set up, inherited by the writers
SEQUENCER_AIM_S = 2.0

# The work row each transaction writes, and the former chain head's stand-in.
SETUP_SQL = """
CREATE TABLE bench_item (id int PRIMARY KEY, n int NOT NULL, payload jsonb NOT NULL);
INSERT INTO bench_item SELECT g, 0, '{}' FROM generate_series(0, 63) AS g;
CREATE TABLE bench_work (id bigserial PRIMARY KEY, writer int NOT NULL, n int NOT NULL,
                         payload jsonb NOT NULL);
CREATE TABLE bench_head (id int PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL);
INSERT INTO bench_head VALUES (1, 0, repeat('0', 64));
"""


def database_recreate(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name or not name.replace("_", "").isalnum():
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'bench'")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_start(database_url: str, key_file: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["PORTAL_SIGNING_KEY_FILE"] = str(key_file)
    os.environ.pop("PORTAL_MODE", None)
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def payload(writer: int, n: int) -> dict[str, Any]:
    """Data like an intake event's: a reference, a digest, a few fields."""
    return {
        "reference": f"R-2026-{writer:03d}-{n:07d}",
        "sha256": f"{(writer * 1_000_003 + n) % (1 << 256):064x}",
        "channel": "api",
        "attachments": 1,
        "before": "",
        "after": "received",
    }


def bench_models() -> tuple[Any, Any]:
    """The benchmark's own two tables, as models (created by SETUP_SQL, not migrations)."""
    from django.db import models

    class Item(models.Model):
        id = models.IntegerField(primary_key=True)
        n = models.IntegerField()
        payload = models.JSONField()

        class Meta:
            app_label = "bench"
            db_table = "bench_item"

        def __str__(self) -> str:
            return f"item {self.id}"

    class Work(models.Model):
        id = models.BigAutoField(primary_key=True)
        writer = models.IntegerField()
        n = models.IntegerField()
        payload = models.JSONField()

        class Meta:
            app_label = "bench"
            db_table = "bench_work"

        def __str__(self) -> str:
            return f"work {self.id}"

    return Item, Work


def writer_loop(kind: str, writer: int, start_at: float, seconds: float, out: Any) -> None:
    """One writer: commit transactions of ``kind`` from ``start_at`` for ``seconds``."""
    from django.db import connection, transaction

    from portal.audit import audit_append

    connection.close()  # a connection of this process's own
    connection.ensure_connection()
    Item, Work = MODELS
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    done = 0
    while time.time() < deadline:
        data = payload(writer, done)
        with transaction.atomic():
            item = Item.objects.select_for_update().get(pk=writer)
            item.n += 1
            item.payload = data
            item.save(update_fields=["n", "payload"])
            Work.objects.create(writer=writer, n=done, payload=data)
            if kind == "head-lock":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT seq, hash FROM bench_head WHERE id = 1 FOR UPDATE")
                    seq, _ = cursor.fetchone()
                    cursor.execute("UPDATE bench_head SET seq = %s WHERE id = 1", [seq + 1])
            if kind != "plain":
                audit_append(
                    action="legal_request.received",
                    target_type="requests_app.legalrequest",
                    target_id=str(writer * 10_000_000 + done),
                    data=data,
                )
        done += 1
    connection.close()
    out.put(done)


def phase(kind: str, writers: int, seconds: float) -> float:
    """Commits per second of ``writers`` processes running ``kind`` together."""
    from django.db import connections

    connections.close_all()  # children must not share the parent's socket
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 1.0 + 0.05 * writers
    processes = [
        context.Process(target=writer_loop, args=(kind, number, start_at, seconds, out))
        for number in range(writers)
    ]
    for process in processes:
        process.start()
    total = sum(out.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            raise RuntimeError(f"a {kind} writer failed with exit code {process.exitcode}")
    return total / seconds


def sequencer_round(events: int) -> tuple[float, int]:
    """Insert ``events`` events (one transaction), then time one sequencer run."""
    from django.db import transaction

    from portal.audit import audit_append
    from portal.sequencer import audit_sequence

    with transaction.atomic():
        for n in range(events):
            audit_append(
                action="legal_request.received",
                target_type="requests_app.legalrequest",
                target_id=str(n),
                data=payload(99, n),
            )
    started = time.perf_counter()
    result = audit_sequence(publish=False)
    elapsed = time.perf_counter() - started
    if result.appended != events:
        raise RuntimeError(f"the sequencer took {result.appended} events, not {events}")
    return elapsed, result.tree_size


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}"


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return str(version)


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"`{head}`" + (" with uncommitted changes" if dirty else "")


def report(
    rates: dict[tuple[str, int], list[float]],
    sequencer: list[tuple[float, int]],
    meta: dict[str, Any],
) -> str:
    def ratio(kind: str, writers: int) -> list[float]:
        return [
            a / b for a, b in zip(rates[(kind, writers)], rates[("plain", writers)], strict=True)
        ]

    headline = statistics.median(ratio("audited", 16))
    seq_best = min(elapsed for elapsed, _ in sequencer)
    seq_median = statistics.median(elapsed for elapsed, _ in sequencer)
    lines = [
        "## The audit log: audited commits and the sequencer",
        "",
        "Written by `bench/audit.py` (how to run it: `bench/README.md`). **Baseline: the same "
        "transactions without the audit write (`plain`), measured in the same run, side by "
        "side in each round.** Ratios are medians of the per-round ratios.",
        "",
        f"**16 writers: audited commits made {headline:.2f}× the plain commits per second "
        f"(aim at least {RATIO_AIM}: {'met' if headline >= RATIO_AIM else 'not met'}). "
        f"The sequencer put {meta['events']:,} events into the tree in {seq_median:.2f} s "
        f"(median of {len(sequencer)} runs, best {seq_best:.2f} s; aim under "
        f"{SEQUENCER_AIM_S:.0f} s: {'met' if seq_median < SEQUENCER_AIM_S else 'not met'}).**",
        "",
        "| writers | plain commits/s (rounds) | audited commits/s (rounds) | audited / plain "
        "(median; rounds) | former head lock / plain (median; rounds) |",
        "|---:|---|---|---|---|",
    ]
    for writers in WRITERS:

        def fmt(kind: str, w: int = writers) -> str:
            values = rates[(kind, w)]
            return f"{statistics.median(values):.0f} ({', '.join(f'{v:.0f}' for v in values)})"

        def fmt_ratio(kind: str, w: int = writers) -> str:
            values = ratio(kind, w)
            spread = ", ".join(f"{v:.2f}" for v in values)
            return f"{statistics.median(values):.2f} ({spread})"

        lines.append(
            f"| {writers} | {fmt('plain')} | {fmt('audited')} | {fmt_ratio('audited')} "
            f"| {fmt_ratio('head-lock')} |"
        )
    lines += [
        "",
        "| sequencer run | events | tree size after | seconds |",
        "|---:|---:|---:|---:|",
    ]
    for number, (elapsed, size) in enumerate(sequencer, 1):
        lines.append(f"| {number} | {meta['events']:,} | {size:,} | {elapsed:.2f} |")
    lines += [
        "",
        "### The run",
        "",
        f"- when: {meta['when']}",
        f"- code: {meta['code']}",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; PostgreSQL {meta['postgres']} on the same machine, "
        "over loopback, shared with other work",
        f"- load average (1, 5, 15 min): {meta['load_before']} before, {meta['load_after']} after",
        f"- each phase: that many writer processes committing as fast as they can for "
        f"{meta['seconds']} s; {meta['rounds']} rounds, kinds alternating; a transaction locks "
        "and updates the writer's own row and creates a history row through the ORM (plain), plus "
        "`audit_append` (audited), plus a shared row locked and updated (the former chain "
        "head's pattern, emulated)",
        "- every committed event was sequenced and the log verified at the end: "
        f"{meta['verified']}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--sequencer-rounds", type=int, default=3)
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()

    load_before = load()
    print("baseline: the same transactions without the audit write (plain), same run")
    print(f"load average before: {load_before}")
    database_recreate(args.database_url)
    key_dir = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    django_start(args.database_url, key_dir / "signing-key.pem")

    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(SETUP_SQL)
    global MODELS
    MODELS = bench_models()

    rates: dict[tuple[str, int], list[float]] = {
        (kind, writers): [] for kind in KINDS for writers in WRITERS
    }
    for number in range(args.rounds):
        for writers in WRITERS:
            kinds = KINDS if number % 2 == 0 else tuple(reversed(KINDS))
            for kind in kinds:
                rate = phase(kind, writers, args.seconds)
                rates[(kind, writers)].append(rate)
                print(f"round {number + 1}: {writers:>2} writers {kind:<9} {rate:8.1f} commits/s")

    from portal.audit import audit_verify
    from portal.sequencer import audit_sequence

    audit_sequence(publish=False)  # what the writers left
    sequencer = []
    for number in range(args.sequencer_rounds):
        elapsed, size = sequencer_round(args.events)
        sequencer.append((elapsed, size))
        print(f"sequencer run {number + 1}: {args.events} events in {elapsed:.2f} s (tree {size})")
    report_ = audit_verify()
    verified = "yes" if report_.ok and report_.events == report_.tree_size else report_.describe()
    print(f"verified: {verified}")

    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": git_revision(),
        "command": "python bench/audit.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "postgres": postgres_version(),
        "load_before": load_before,
        "load_after": load(),
        "seconds": args.seconds,
        "rounds": args.rounds,
        "events": args.events,
        "verified": verified,
    }
    markdown = report(rates, sequencer, meta)
    print()
    print(markdown)
    if args.write:
        section_write("audit.py", markdown)
    return 0 if verified == "yes" else 1


if __name__ == "__main__":
    sys.exit(main())
