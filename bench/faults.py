"""Break one part of the stack under load at a time; check that nothing was lost or half-done.

Run by hand (not in CI), from the repository root, with the project's virtualenv, as root
(the disk-full run mounts a small file system):

    .venv/bin/python bench/faults.py                   # every fault; about 15 minutes
    .venv/bin/python bench/faults.py --only redis,disk-full --no-write

One stack of the run's own (bench/_stack.py; nothing shared is touched), then, for each
fault, the load of bench/load.py at a smaller scale for a while, with the fault injected
during it and undone after ``--outage`` seconds:

``postgres``
    PostgreSQL stopped as by a crash (SIGQUIT, "immediate": recovered from the WAL at
    the next start) and started again.
``redis``
    Redis (the broker and the cache; no persistence, so its queue is lost) stopped and
    started again, while reviewers keep handing approved requests to delivery.
``worker-kill``
    The Celery worker and its pool killed at once (SIGKILL to the process group, as when
    a machine dies) while it seals large responses, and a new worker started.
``worker-child-kill``
    The pool process that is sealing killed (SIGKILL); the worker itself lives on.
``disk-full``
    The file system of the storage (sealed files and legal documents; a tmpfs, or a
    loop-mounted ext4 image where tmpfs is refused) filled to the last byte, then freed.

After the load the clients resend, byte for byte, every submission and every hand-over
that got no answer or a 5xx, as README tells an authority to. Then the checks of
bench/load.py run again: every 201 is a request in the database, one request per
submission, every hand-over sealed exactly once (waiting for Celery beat's sweeper where
the broker lost a task), every stored document and sealed file intact and served as
listed, the audit chain verifies; and the record says what the clients were answered
while the part was down.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where a sibling file could
# shadow the standard library: put the repository there instead.
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import errno  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

from bench import _measure as measure  # noqa: E402
from bench._results import section_write  # noqa: E402
from bench._stack import Stack, cpu_ticks, stopwatch  # noqa: E402

FAULTS = ["postgres", "redis", "worker-kill", "worker-child-kill", "disk-full"]


@dataclass
class Injected:
    """What a fault did, when, and what was seen while it lasted."""

    began: float = 0.0
    ended: float = 0.0
    notes: list[str] = field(default_factory=list)


def _health(stack: Stack) -> str:
    status, body = stack.http_get("/healthz")
    try:
        report = json.loads(body)
        down = [name for name, part in report.items() if isinstance(part, dict) and not part["ok"]]
        return f"{status} ({', '.join(down) + ' down' if down else 'all up'})"
    except ValueError:
        return f"{status} (not JSON: {body[:60]!r})"


def _in_flight(stack: Stack) -> list[str]:
    """Seal tasks delivered to a worker and not yet acknowledged (kombu's "unacked" hash)."""
    found = []
    for raw in stack.redis.client().hvals("unacked"):
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            message = json.loads(raw)[0]
            headers = message["headers"]
            if headers.get("task") == "requests_app.delivery.seal":
                found.append(f"disclosure {headers.get('argsrepr', '?').strip('(),')}")
    return found


def _pending(stack: Stack) -> set[str]:
    import psycopg

    with psycopg.connect(stack.postgres.url(), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id FROM requests_app_disclosure WHERE state = 'pending'"
        ).fetchall()
    return {f"disclosure {row[0]}" for row in rows}


def _wait_for_a_seal_in_flight(stack: Stack, timeout: float = 40) -> list[str]:
    """Seal tasks delivered to a worker, unacknowledged, whose disclosure is still pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _in_flight(stack)
        if found:
            pending = _pending(stack)
            found = [item for item in found if item in pending]
            if found:
                return found
        time.sleep(0.1)
    return []


def fault_postgres(stack: Stack, outage: float) -> Injected:
    done = Injected(began=time.time())
    stack.postgres.stop("immediate")
    time.sleep(min(2.0, outage / 2))
    done.notes.append(f"`/healthz` while it was down: {_health(stack)}")
    time.sleep(max(0.0, done.began + outage - time.time()))
    stack.postgres.start()
    done.ended = time.time()
    done.notes.append(
        f"PostgreSQL stopped as by a crash (SIGQUIT) for {done.ended - done.began:.0f} s, "
        "then started (crash recovery from the WAL)"
    )
    return done


def fault_redis(stack: Stack, outage: float) -> Injected:
    done = Injected(began=time.time())
    queued = stack.redis.client().llen("celery")
    stack.redis.stop()
    time.sleep(min(2.0, outage / 2))
    done.notes.append(f"`/healthz` while it was down: {_health(stack)}")
    time.sleep(max(0.0, done.began + outage - time.time()))
    stack.redis.start()
    done.ended = time.time()
    beat = "still running" if stack.beat and stack.beat.running() else "**no longer running**"
    workers = ", ".join(
        f"{w.name} {'running' if w.running() else 'NOT RUNNING'}" for w in stack.workers
    )
    done.notes.append(
        f"Redis stopped (SIGTERM, no persistence: {queued} queued tasks and every counter "
        f"lost) for {done.ended - done.began:.0f} s, then started empty; afterwards beat "
        f"{beat}, {workers}"
    )
    return done


def fault_worker_kill(stack: Stack, outage: float) -> Injected:
    in_flight = _wait_for_a_seal_in_flight(stack)
    worker = stack.workers[-1]
    busy = [pid for pid in worker.children() if pid]
    done = Injected(began=time.time())
    worker.kill()
    stack.worker_retire(worker)
    done.notes.append(
        f"{worker.name} (main process and {len(busy)} pool processes) killed with SIGKILL "
        f"while {', '.join(in_flight) or 'NO seal task (none was in flight in 40 s)'} "
        "had been delivered to it and not acknowledged"
    )
    time.sleep(outage)
    stack.worker_start()
    done.ended = time.time()
    done.notes.append(
        f"a new worker started {done.ended - done.began:.0f} s later; a task delivered to the "
        "dead worker comes back from Redis only after the visibility timeout (an hour), so "
        "beat's sweeper (every 2 minutes, for disclosures pending over a minute) must "
        "enqueue it again"
    )
    return done


def fault_worker_child_kill(stack: Stack, outage: float) -> Injected:
    in_flight = _wait_for_a_seal_in_flight(stack)
    worker = stack.workers[-1]
    children = worker.children()
    before = {pid: cpu_ticks(pid) for pid in children}
    time.sleep(0.3)
    busy = [pid for pid in children if cpu_ticks(pid) > before[pid]] or children[:1]
    done = Injected(began=time.time())
    for pid in busy:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    done.ended = time.time()
    done.notes.append(
        f"{len(busy)} busy pool process(es) of {worker.name} killed with SIGKILL while "
        f"{', '.join(in_flight) or 'NO seal task'} was delivered and not acknowledged; the "
        "worker's main process lives on and replaces them"
    )
    return done


def fault_disk_full(stack: Stack, outage: float) -> Injected:
    filler = stack.storage / "filler"
    done = Injected(began=time.time())
    written = 0
    with filler.open("wb", buffering=0) as handle:
        for block in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * block
            while True:
                try:
                    written += handle.write(chunk) or 0
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EFBIG):
                        raise
                    break
    usage = shutil.disk_usage(stack.storage)
    done.notes.append(
        f"the storage ({stack.storage_mounted_as}) filled with a {written:,}-byte file: "
        f"{usage.free:,} bytes free"
    )
    time.sleep(min(2.0, outage / 2))
    done.notes.append(f"`/healthz` while it was full: {_health(stack)}")
    time.sleep(max(0.0, done.began + outage - time.time()))
    filler.unlink()
    done.ended = time.time()
    done.notes.append(f"freed after {done.ended - done.began:.0f} s")
    return done


INJECT: dict[str, Callable[[Stack, float], Injected]] = {
    "postgres": fault_postgres,
    "redis": fault_redis,
    "worker-kill": fault_worker_kill,
    "worker-child-kill": fault_worker_child_kill,
    "disk-full": fault_disk_full,
}
TITLE = {
    "postgres": "PostgreSQL restarted (crash) during load",
    "redis": "Redis stopped and restarted during load",
    "worker-kill": "Celery worker killed (SIGKILL, whole group) mid-seal, restarted",
    "worker-child-kill": "Celery pool process killed (SIGKILL) mid-seal",
    "disk-full": "the storage's file system full during load",
}
LOG_NEEDLES = {
    "postgres": ("OperationalError", "InterfaceError"),
    "redis": ("ConnectionError", "Error calling", "beat: Connection error"),
    "worker-kill": ("WorkerLostError", "killed"),
    "worker-child-kill": ("WorkerLostError", "exited with 'signal 9"),
    "disk-full": ("No space left", "ENOSPC", "Errno 28"),
}


def supervise(stack: Stack) -> list[str]:
    """Start again any worker or beat that exited by itself, as a process supervisor would.

    The portal itself does not do this: a part found dead here is a finding of the run.
    """
    found = []
    for worker in list(stack.workers):
        if worker.running():
            continue
        last = [line for line in worker.log.read_text(errors="replace").splitlines() if line]
        why = next(
            (line for line in reversed(last) if "CRITICAL" in line), last[-1] if last else ""
        )
        stack.worker_retire(worker)
        stack.worker_start()
        found.append(f"{worker.name} had exited by itself (`{why[:200]}`)")
    if stack.beat is not None and not stack.beat.running():
        stack.beat.start()
        found.append("celery beat had exited by itself")
    return found


def phase_of(record: dict[str, Any], injected: Injected, grace: float) -> str:
    if record["k"] in ("retry", "disclose-retry"):
        return "resent"
    if record["t"] + record["ms"] / 1000 < injected.began:
        return "before"  # answered before the fault began (in flight then counts as during)
    if record["t"] <= injected.ended + grace:
        return "during"
    return "after"


def answers_by_phase(
    records: list[dict[str, Any]], injected: Injected, grace: float
) -> dict[str, dict[str, Any]]:
    """Per phase: how many requests, how many 5xx / no answer, and which answers came."""
    phases: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["k"] == "login":
            continue
        phase = phases.setdefault(
            phase_of(r, injected, grace), {"requests": 0, "failed": 0, "answers": {}}
        )
        phase["requests"] += 1
        bad = r["s"] >= 500 or r["s"] <= 0
        phase["failed"] += bad
        if bad or r["k"] in ("submit", "retry", "disclose", "disclose-retry"):
            label = f"{r['k']} " + (
                f"{r['s']} {r['e']}".strip() if r["s"] > 0 else (r["e"] or "no answer")
            )
            phase["answers"][label] = phase["answers"].get(label, 0) + 1
    return phases


def run_fault(
    stack: Stack, spec: dict[str, Any], name: str, number: int, args: argparse.Namespace
) -> dict[str, Any]:
    pool_name = "big" if name.startswith("worker") else "small"
    pool = spec["disclosures"][pool_name]
    taken = args.taken.setdefault(pool_name, 0)
    per_run = args.hand_overs
    hand_overs = pool[taken : taken + per_run]
    args.taken[pool_name] = taken + per_run
    plan = {
        "seconds": args.seconds,
        "timeout": args.timeout,
        "submitters": args.submitters,
        "officer_offset": number * args.submitters,
        "reviewer_offset": number * (args.reviewers + 1),
        "reviewers": args.reviewers,
        "readers": args.readers,
        "disclosers": 1,
        "disclose": hand_overs,
        "disclose_every": args.seconds / per_run,
        "double_every": 20,
        "retry_seconds": args.retry_seconds,
    }
    gunicorn_log = stack.logs()["gunicorn"]
    log_start = gunicorn_log.stat().st_size if gunicorn_log.exists() else 0
    print(f"\n== {name}: {TITLE[name]}")
    run = measure.client_start(stack, spec, plan, name)
    started = run.started_at()
    time.sleep(max(0.0, started + args.fault_at - time.time()))
    injected = INJECT[name](stack, args.outage)
    for note in injected.notes:
        print("  " + note)
    died = supervise(stack)
    for note in died:
        print("  FOUND: " + note)
    result = run.wait()
    died += supervise(stack)
    print(f"  clients done; resent until {result['retried_until'] - result['ended']:.0f} s later")
    sealed_all, waited = measure.seals_wait(stack, timeout=args.seal_timeout)
    print(f"  every hand-over sealed: {sealed_all} (waited {waited:.0f} s)")
    report = measure.checks_run(
        stack, spec, [run.out_path], officers=f"{number * args.submitters}:{args.submitters}"
    )
    downloads = measure.downloads_check(stack, spec, report)
    audit = measure.audit_verify(stack)
    logs = stack.log_lines(*LOG_NEEDLES[name], since=log_start)
    records = result["records"]
    phases = answers_by_phase(records, injected, grace=args.grace)
    outside = sum(p["failed"] for key, p in phases.items() if key in ("before", "after"))
    after_resend = [
        r
        for r in records
        if r["k"] in ("retry", "disclose-retry") and (r["s"] >= 500 or r["s"] <= 0)
    ]
    unsettled = _unsettled(records)
    intact = measure.integrity_ok(report, downloads, audit)
    held = intact and sealed_all and not unsettled and not died
    print(f"  integrity: {intact}; failures outside the fault: {outside}; unsettled: {unsettled}")
    return {
        "name": name,
        "injected": injected,
        "phases": phases,
        "outside": outside,
        "after_resend": len(after_resend),
        "unsettled": unsettled,
        "report": report,
        "downloads": downloads,
        "audit": audit,
        "sealed_all": sealed_all,
        "waited": waited,
        "logs": logs,
        "held": held,
        "died": died,
        "seconds": result["ended"] - result["started"],
        "figures": measure.figures(records, result["ended"] - result["started"]),
    }


def _unsettled(records: list[dict[str, Any]]) -> list[str]:
    """Submissions and hand-overs still without a definite answer after the resending."""
    last: dict[str, int] = {}
    for r in records:
        if r["k"] in ("submit", "retry"):
            key = f"submission {r['n'][:8]}"
        elif r["k"] in ("disclose", "disclose-retry"):
            key = f"hand-over {r['r']}"
        else:
            continue
        if last.get(key) not in (201, 302, 409):
            last[key] = r["s"]
    return sorted(k for k, s in last.items() if s >= 500 or s <= 0 or s == -3)


def markdown(runs: list[dict[str, Any]], facts: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "## Faults: one part broken under load (`bench/faults.py`)",
        "",
        "Written by `bench/faults.py` (how to run it: `bench/README.md`). Each run puts the "
        f"load of `bench/load.py` on the stack at a smaller scale ({args.clients} clients for "
        f"{args.seconds:g} s), breaks one part {args.fault_at:g} s in for about "
        f"{args.outage:g} s, then resends (same bytes) whatever got no answer or a 5xx, as "
        'README tells an authority to, and checks what was kept. "During" is from the '
        f"fault until {args.grace:g} s after it was undone.",
        "",
        "| fault | what the clients got during it | after resending | nothing lost or "
        "doubled, files intact, chain verifies | every hand-over sealed once | workers and "
        "beat lived on |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        during = run["phases"].get("during", {"requests": 0, "failed": 0})
        report = run["report"]
        intact = measure.integrity_ok(report, run["downloads"], run["audit"])
        lines.append(
            f"| {TITLE[run['name']]} | {during['requests']} requests, {during['failed']} "
            f"failed (5xx or no answer); outside it: {run['outside']} failed "
            f"| {len(run['unsettled'])} still unanswered "
            f"| {'yes' if intact else '**NO**'} "
            f"| {'yes' if run['sealed_all'] and not report['sealed_twice'] else '**NO**'} "
            f"({run['waited']:.0f} s after the load) "
            f"| {'yes' if not run['died'] else '**NO**: ' + '; '.join(run['died'])[:160]} |"
        )
    for run in runs:
        lines += ["", f"### {TITLE[run['name']]}", ""]
        lines += [f"- {note}" for note in run["injected"].notes]
        lines += [
            f"- **{note}**; the benchmark started it again, as a process supervisor would, "
            "and waited for the sweeper"
            for note in run["died"]
        ]
        for phase in ("before", "during", "after", "resent"):
            found = run["phases"].get(phase)
            if not found:
                continue
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(found["answers"].items()))
            lines.append(
                f"- {phase}: {found['requests']} requests, {found['failed']} failed; {answers}"
            )
        lines += measure.integrity_lines(run["report"], run["downloads"], run["audit"])
        lines.append(
            f"- every hand-over sealed: {'yes' if run['sealed_all'] else '**NO**'} "
            f"({run['waited']:.0f} s after the load ended)"
        )
        if run["unsettled"]:
            lines.append(
                f"- still without an answer after resending: {', '.join(run['unsettled'][:5])}"
            )
        if run["logs"]:
            shown = "; ".join(f"`{line[:200]}`" for line in _distinct(run["logs"])[:4])
            lines.append(f"- in the portal's logs ({len(run['logs'])} lines): {shown}")
    lines += [
        "",
        "### The run",
        "",
        f"- when: {facts['when']}; code: `{facts['commit']}`",
        f"- command: `{' '.join(['python bench/faults.py', *sys.argv[1:]])}`",
        f"- machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['system']}, shared with "
        f"other work; `uptime` before: `{facts['uptime_before']}`, after: "
        f"`{facts['uptime_after']}`",
        f"- Python {facts['python']}, PostgreSQL {facts['postgresql']}, Redis {facts['redis']}, "
        f"gunicorn {facts['gunicorn']}, Celery {facts['celery']}",
        f"- the stack of bench/load.py (its own PostgreSQL cluster, Redis without persistence, "
        f"gunicorn with {args.workers} sync workers, one Celery worker with "
        f"{args.celery_concurrency} prefork processes and beat on the production schedule, "
        f"`PORTAL_MODE=production`); storage on a {facts['storage']}",
        f"- clients per run: {args.submitters} officers (officers of their own per run), "
        f"{args.reviewers} reviewers, {args.readers} status readers, one reviewer handing "
        f"{args.hand_overs} approved requests to delivery (large ones, "
        f"{args.big_events:,} IP events each, for the worker faults); resending for at most "
        f"{args.retry_seconds:g} s",
    ]
    return "\n".join(lines) + "\n"


def _distinct(lines: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for line in lines:
        key = line.split(":", 1)[0] + line.rsplit(":", 1)[-1][:60]
        seen.setdefault(key, line)
    return list(seen.values())


def parse_args() -> argparse.Namespace:
    cpus = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(FAULTS), help="comma-separated faults")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--reviewers", type=int, default=3)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=40, help="load per fault")
    parser.add_argument("--fault-at", type=float, default=10, help="seconds into the load")
    parser.add_argument("--outage", type=float, default=15, help="seconds the part is down")
    parser.add_argument("--grace", type=float, default=5, help="seconds after, still 'during'")
    parser.add_argument("--retry-seconds", type=float, default=120)
    parser.add_argument("--seal-timeout", type=float, default=330)
    parser.add_argument("--hand-overs", type=int, default=20, help="per fault")
    parser.add_argument("--big-events", type=int, default=60000)
    parser.add_argument("--workers", type=int, default=2 * cpus + 1, help="gunicorn workers")
    parser.add_argument("--celery-concurrency", type=int, default=cpus)
    parser.add_argument("--timeout", type=float, default=60, help="client timeout, seconds")
    parser.add_argument("--storage", choices=["tmpfs", "loop"], default="tmpfs")
    parser.add_argument("--storage-size", default="256m")
    parser.add_argument("--pg-port", type=int, default=55433)
    parser.add_argument("--redis-port", type=int, default=56380)
    parser.add_argument("--port", type=int, default=58001)
    parser.add_argument("--keep", action="store_true", help="keep the run's folder and logs")
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()
    args.faults = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
    args.submitters = args.clients - args.reviewers - args.readers - 1
    args.taken = {}
    return args


def main() -> int:
    args = parse_args()
    facts: dict[str, Any] = {**measure.machine(), "uptime_before": measure.uptime()}
    runs = []
    count = len(args.faults)
    with Stack(
        gunicorn_workers=args.workers,
        celery_concurrency=args.celery_concurrency,
        storage_mount=args.storage if "disk-full" in args.faults else "",
        storage_size=args.storage_size,
        pg_port=args.pg_port,
        redis_port=args.redis_port,
        http_port=args.port,
        keep=args.keep,
    ) as stack:
        print(f"stack in {stack.workdir}: starting (initdb, migrate, collectstatic, seed)")
        with stopwatch() as setup_time:
            spec = stack.start(
                seed={
                    "officers": args.submitters * count,
                    "reviewers": (args.reviewers + 1) * count,
                    "small": args.hand_overs * count,
                    "big": args.hand_overs * sum(1 for n in args.faults if n.startswith("worker")),
                    "big_events": args.big_events,
                }
            )
        print(f"ready in {setup_time():.0f} s; storage: {stack.storage_mounted_as or 'a folder'}")
        facts.update(stack.versions())
        facts["storage"] = stack.storage_mounted_as or "plain folder"
        for number, name in enumerate(args.faults):
            runs.append(run_fault(stack, spec, name, number, args))
    facts["uptime_after"] = measure.uptime()
    text = markdown(runs, facts, args)
    print(text)
    if args.write:
        section_write("faults.py", text)
        print("wrote bench/RESULTS.md")
    return 0 if all(run["held"] for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
