"""Load the whole stack with concurrent officers and reviewers; check that nothing was lost.

Run by hand (not in CI), from the repository root, with the project's virtualenv:

    .venv/bin/python bench/load.py              # 50 clients for 60 s; see bench/README.md

It starts a stack of its own (bench/_stack.py: a PostgreSQL cluster initdb'd for the run,
a redis-server, gunicorn with several sync workers, Celery workers and beat, all on
loopback and on their own ports), seeds officers and reviewers, and runs one client
process (bench/_traffic.py) with C concurrent clients for S seconds, each sending its next
request as soon as the last is answered:

- officers submit signed requests (``POST /api/v1/submissions``, a fresh nonce, Ed25519,
  a one-page PDF each; now and then the same bytes twice at once, as a hasty retry does);
- reviewers, logged in through the real pages (password, then a TOTP code), read the
  review queue with its filters and open request pages;
- status readers ask for submissions' status with the officers' tokens;
- one reviewer hands approved requests to delivery at a steady pace, which Celery seals.

Then it waits for Celery to seal every hand-over and checks: every 201 is a request in
the database, each submission got one request and one reference, no answer was a 5xx,
every stored document and sealed file is intact (each sealed file downloaded through the
API and opened with the officer's age identity), and ``manage.py verify_audit`` passes.
Throughput and latency go to bench/RESULTS.md, with the machine's load at the time.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, where bench/queue.py would
# shadow the standard library's queue: put the repository there instead.
sys.path[:] = [str(ROOT)] + [
    entry for entry in sys.path if Path(entry or ".").resolve() not in (ROOT, ROOT / "bench")
]

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
from typing import Any  # noqa: E402

from bench import _measure as measure  # noqa: E402
from bench._results import section_write  # noqa: E402
from bench._stack import Stack, stopwatch  # noqa: E402

AIM_CLIENTS = 50
AIM_SECONDS = 60


def parse_args() -> argparse.Namespace:
    cpus = os.cpu_count() or 2
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=AIM_CLIENTS, help="concurrent clients")
    parser.add_argument("--reviewers", type=int, default=6, help="of the clients: reviewers")
    parser.add_argument("--readers", type=int, default=3, help="of the clients: status readers")
    parser.add_argument(
        "--disclosers", type=int, choices=[0, 1], default=1, help="of the clients: hand-overs"
    )
    parser.add_argument("--seconds", type=float, default=AIM_SECONDS)
    parser.add_argument("--workers", type=int, default=2 * cpus + 1, help="gunicorn workers")
    parser.add_argument(
        "--celery-concurrency", type=int, default=cpus, help="Celery's prefork processes"
    )
    parser.add_argument("--disclose-every", type=float, default=2.0, help="seconds")
    parser.add_argument(
        "--double-every", type=int, default=20, help="every Nth submission is posted twice at once"
    )
    parser.add_argument("--timeout", type=float, default=60, help="client timeout, seconds")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--redis-port", type=int, default=56379)
    parser.add_argument("--port", type=int, default=58000, help="gunicorn's port")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder and logs")
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()
    args.submitters = args.clients - args.reviewers - args.readers - args.disclosers
    if args.submitters < 1:
        parser.error("--clients must leave at least one submitter")
    return args


def main() -> int:
    args = parse_args()
    before = {"load": measure.load_average(), "uptime": measure.uptime()}
    busy = measure.busiest_processes()
    facts = measure.machine()
    hand_overs = math.ceil(args.seconds / args.disclose_every) + 5
    with Stack(
        gunicorn_workers=args.workers,
        celery_concurrency=args.celery_concurrency,
        pg_port=args.pg_port,
        redis_port=args.redis_port,
        http_port=args.port,
        keep=args.keep,
    ) as stack:
        print(f"stack in {stack.workdir}: starting (initdb, migrate, collectstatic, seed)")
        with stopwatch() as setup_time:
            spec = stack.start(
                seed={
                    "officers": args.submitters,
                    "reviewers": args.reviewers + args.disclosers,
                    "small": hand_overs * args.disclosers,
                    "big": 0,
                    "big_events": 0,
                }
            )
        print(
            f"ready in {setup_time():.0f} s: gunicorn on 127.0.0.1:{stack.port} "
            f"({args.workers} workers), PostgreSQL :{stack.postgres.port}, "
            f"Redis :{stack.redis.port}; {args.clients} clients for {args.seconds:g} s"
        )
        pool = spec["disclosures"]["small"]
        plan: dict[str, Any] = {
            "seconds": args.seconds,
            "timeout": args.timeout,
            "submitters": args.submitters,
            "reviewers": args.reviewers,
            "readers": args.readers,
            "disclosers": args.disclosers,
            "disclose": pool,
            "disclose_every": args.disclose_every,
            "double_every": args.double_every,
            "retry_seconds": 0,
        }
        gunicorn_log_start = stack.logs()["gunicorn"].stat().st_size
        run = measure.client_start(stack, spec, plan, "load")
        result = run.wait()
        after_load = measure.load_average()
        sealed_all, waited = measure.seals_wait(stack, timeout=180)
        report = measure.checks_run(stack, spec, [run.out_path])
        mails = measure.mails_wait(stack, report["sealed"])
        downloads = measure.downloads_check(stack, spec, report)
        audit = measure.audit_verify(stack)
        versions = stack.versions()
        errors = stack.log_lines("Traceback", " ERROR ", "Error:", since=gunicorn_log_start)

    records = result["records"]
    seconds = result["ended"] - result["started"]
    rows = measure.figures(records, seconds)
    five = measure.server_errors(records)
    silent = measure.no_answers(records)
    crashed = [r for r in records if r["k"] == "client-crash"]
    intact = measure.integrity_ok(report, downloads, audit)
    met = (
        intact
        and five == 0
        and silent == 0
        and not crashed
        and sealed_all
        and mails == report["sealed"]
        and args.clients >= AIM_CLIENTS
        and seconds >= AIM_SECONDS
    )
    submit = next((f for f in rows if f.kind == "submit"), None)
    lines = [
        "## Load: the whole stack under concurrent clients (`bench/load.py`)",
        "",
        "Written by `bench/load.py` (how to run it: `bench/README.md`). Every part is real",
        "and runs on this one machine: gunicorn, PostgreSQL, Redis, Celery, and the clients",
        "in a separate process, over loopback.",
        "",
        f"**{args.clients} concurrent clients for {seconds:.0f} s: "
        f"{report['acknowledged']} signed submissions accepted and stored "
        f"({report['acknowledged'] / seconds:.1f}/s; {submit.ok if submit else 0} answers 201, "
        f"p50 {submit.p50 if submit else 0:.0f} ms, p99 {submit.p99 if submit else 0:.0f} ms, "
        f"the rest of the {len(records)} requests as in the table); {five} answers 5xx, "
        f"{silent} without an "
        f"answer; {len(report['lost'])} lost and "
        f"{len(report['two_answers']) + len(report['split_pairs'])} duplicated requests; audit "
        f"chain {'intact' if audit[0] else 'BROKEN'}. Aim (issue 8: {AIM_CLIENTS} clients, "
        f"{AIM_SECONDS} s, nothing lost or duplicated, no 5xx, an intact chain): "
        f"{'met' if met else 'NOT met'}.**",
        "",
    ]
    if float(before["load"].split()[0]) > 0.5 * (os.cpu_count() or 1):
        lines += [
            f"*The machine was busy before the run (load average {before['load']} on "
            f"{facts['cpus']} CPUs; biggest CPU users: {'; '.join(busy[:3])}): the stack "
            "shared the CPUs with other work, so the throughput is low and the latencies "
            "high. The checks do not depend on it.*",
            "",
        ]
    lines += [
        "Each client sends its next request as soon as the last is answered (a closed loop, "
        "no think time): the throughput is what the stack sustains when saturated, and the "
        "latency is mostly time spent waiting for a free gunicorn worker.",
        "",
        *measure.figures_table(rows),
        "",
        "### Checked after the run",
        "",
        *measure.integrity_lines(report, downloads, audit),
        f"- every hand-over sealed by Celery: {'yes' if sealed_all else '**NO**'} "
        f"({waited:.0f} s after the clients stopped)",
        f'- one "A response is ready" mail (by SMTP) per sealed response: '
        f"{'yes' if mails == report['sealed'] else '**NO**'} ({mails} mails)",
        f"- errors in the portal's logs: {len(errors)}"
        + (": " + "; ".join(f"`{e[:160]}`" for e in errors[:3]) if errors else ""),
        "",
        "### The run",
        "",
        f"- when: {facts['when']}; code: `{facts['commit']}`",
        f"- command: `{' '.join(['python bench/load.py', *sys.argv[1:]])}`",
        f"- machine: {facts['cpus']} CPUs ({facts['cpu']}), {facts['system']}, "
        f"shared with other work; `uptime` before: `{before['uptime']}`; load average after the "
        f"clients: {after_load}",
        f"- Python {facts['python']}, PostgreSQL {versions['postgresql']}, Redis "
        f"{versions['redis']}, gunicorn {versions['gunicorn']}, Celery {versions['celery']}",
        f"- server: gunicorn, {args.workers} sync workers; Celery, one worker with "
        f"{args.celery_concurrency} prefork processes, and beat; PostgreSQL (a cluster initdb'd "
        "for the run, default settings, fsync on) and Redis (no persistence) of the run's own; "
        "`PORTAL_MODE=production` with the portal's own settings, behind a stand-in for the "
        "TLS proxy (the client sends `X-Forwarded-Proto: https` and the portal's host name, "
        "so secure cookies, CSRF's origin check and the SSL redirect apply); the submission "
        "rate limits raised so that they never refuse (they still run, on Redis)",
        f"- clients: {args.submitters} officers submitting (one token and key each, "
        f"every {args.double_every}th submission posted twice at once), {args.reviewers} "
        f"reviewers reading the queue (logged in with password and TOTP), {args.readers} "
        f"reading submissions' status, {args.disclosers} handing an approved request to "
        f"delivery every {args.disclose_every:g} s; a new connection per request",
        f"- set-up (initdb, migrate, collectstatic, seed) took {setup_time():.0f} s, not counted",
    ]
    markdown = "\n".join(lines) + "\n"
    print(markdown)
    if crashed:
        print("client crashes:", *[r["e"] for r in crashed[:5]], sep="\n  ", file=sys.stderr)
    if errors:
        print("errors in the logs:", *errors[:20], sep="\n  ", file=sys.stderr)
    if args.write:
        section_write("load.py", markdown)
        print("wrote bench/RESULTS.md")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
