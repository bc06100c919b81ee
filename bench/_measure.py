# ruff: noqa: S603  (a benchmark starts its own processes, with fixed arguments)
"""Run the clients against a ``Stack``, check what they were told against what was kept.

Shared by bench/load.py and bench/faults.py: start the client process, wait for Celery to
seal what was handed over, run the checks (bench/_traffic.py ``check``), download every
sealed response through the API and open it, verify the audit chain, and summarise.
"""

import hashlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._stack import ROOT, Stack, wait_until

READY = "A response is ready"  # the subject of the officer's notice (sealing.py)
KIND_LABELS = {
    "submit": "submit (`POST /api/v1/submissions`)",
    "queue": "review queue (`GET /review/`)",
    "request-page": "request page (`GET /review/<ref>/`)",
    "status": "status (`GET /api/v1/submissions/<ref>`)",
    "status-list": "own list (`GET /api/v1/submissions`)",
    "disclose": "hand to delivery (`POST .../disclose/`)",
    "login": "reviewer login (password + TOTP)",
    "retry": "resend after the run (same bytes)",
    "disclose-retry": "hand over again after the run",
}


@dataclass
class ClientRun:
    process: subprocess.Popen
    plan_path: Path
    out_path: Path
    started_path: Path

    def started_at(self, timeout: float = 120) -> float:
        """Wall-clock time the client's timed phase began (waits for the client's marker)."""

        def marker() -> float:
            if self.process.poll() is not None and not self.started_path.exists():
                raise RuntimeError(f"the client exited early with {self.process.returncode}")
            return float(self.started_path.read_text()) if self.started_path.exists() else 0.0

        return float(wait_until(marker, timeout=timeout, what="the client to start", every=0.1))

    def wait(self) -> dict[str, Any]:
        if self.process.wait() != 0:
            raise RuntimeError(f"the client failed with status {self.process.returncode}")
        return json.loads(self.out_path.read_text())


def client_start(stack: Stack, spec: dict[str, Any], plan: dict[str, Any], name: str) -> ClientRun:
    """Start the client process (no Django in it) with ``plan``; return at once."""
    plan = {"port": stack.port, **plan}
    plan_path = stack.workdir / f"plan-{name}.json"
    plan_path.write_text(json.dumps(plan))
    out_path = stack.workdir / f"client-{name}.json"
    started_path = stack.workdir / f"client-{name}.started"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "bench._traffic", "client"),
            *("--spec", spec["spec_path"], "--plan", str(plan_path)),
            *("--out", str(out_path), "--started", str(started_path)),
        ],
        cwd=stack.code,
        env={**os.environ, "PYTHONPATH": str(stack.code)},
        start_new_session=True,
    )
    return ClientRun(process, plan_path, out_path, started_path)


def pending_disclosures(stack: Stack) -> int:
    import psycopg

    with psycopg.connect(stack.postgres.url(), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM requests_app_disclosure WHERE state = 'pending'"
        ).fetchone()
    return row[0] if row else -1


def seals_wait(stack: Stack, timeout: float) -> tuple[bool, float]:
    """Wait until no disclosure is pending; (all sealed, seconds waited)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if pending_disclosures(stack) == 0:
                return True, time.monotonic() - started
        except Exception:  # noqa: S110  (the database may be coming back: ask again)
            pass
        time.sleep(1)
    return False, time.monotonic() - started


def mails_wait(stack: Stack, expected: int, timeout: float = 15) -> int:
    """The "A response is ready" mails the SMTP sink got, once ``expected`` came or time ran out."""
    assert stack.mail is not None  # noqa: S101  (started with the stack)
    deadline = time.monotonic() + timeout
    while stack.mail.count(READY) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return stack.mail.count(READY)


def checks_run(
    stack: Stack, spec: dict[str, Any], results: list[Path], officers: str = ""
) -> dict[str, Any]:
    """Run bench/_traffic.py's checks; ``officers`` ("FIRST:COUNT") limits them to a run's."""
    out = stack.workdir / f"check-{time.monotonic_ns()}.json"
    stack.run(
        [
            *(sys.executable, "-m", "bench._traffic", "check", "--spec", spec["spec_path"]),
            *("--out", str(out), "--officers", officers, "--results", *map(str, results)),
        ]
    )
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def audit_verify(stack: Stack) -> tuple[bool, str]:
    done = subprocess.run(
        [sys.executable, str(stack.code / "manage.py"), "verify_audit"],
        env=stack.env,
        cwd=stack.code,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip().splitlines()[-1:][0]


def downloads_check(stack: Stack, spec: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Download every sealed response through the API, as the officer; check and open it."""
    import pyrage

    officers = {o["id"]: o for o in [*spec["officers"], spec["discloser_officer"]]}
    problems = []
    for row in report["sealed_rows"]:
        officer = officers[row["officer_id"]]
        auth = {"Authorization": f"Bearer {officer['token']}"}
        status, body = stack.http_get(f"/api/v1/submissions/{row['reference']}/responses", auth)
        listed = {item["id"]: item for item in json.loads(body)} if status == 200 else {}
        if row["id"] not in listed:
            problems.append(f"{row['reference']}: not listed ({status})")
            continue
        status, data = stack.http_get(f"/api/v1/responses/{row['id']}/download", auth)
        if status != 200:
            problems.append(f"{row['reference']}: download answered {status}")
            continue
        if len(data) != listed[row["id"]]["size"] or (
            hashlib.sha256(data).hexdigest() != listed[row["id"]]["sha256"]
        ):
            problems.append(f"{row['reference']}: the file served is not the file listed")
            continue
        try:
            identity = pyrage.x25519.Identity.from_str(officer["identity"])
            archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(data, [identity])))
            document = json.loads(archive.read("response.json"))
        except Exception as exc:
            problems.append(f"{row['reference']}: does not open: {exc!r}")
            continue
        if document.get("reference") != row["reference"]:
            problems.append(f"{row['reference']}: response.json names {document.get('reference')}")
    return problems


# --- Figures ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass
class KindFigures:
    kind: str
    count: int
    ok: int
    per_second: float
    p50: float
    p99: float
    statuses: dict[str, int] = field(default_factory=dict)


OK_STATUS = {
    "submit": {201},
    "retry": {201},
    "queue": {200},
    "request-page": {200},
    "status": {200},
    "status-list": {200},
    "disclose": {302},
    "disclose-retry": {302, 409},
    "login": {302},
}


def figures(records: list[dict[str, Any]], seconds: float) -> list[KindFigures]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_kind.setdefault(r["k"], []).append(r)
    found = []
    for kind in [*KIND_LABELS, *sorted(set(by_kind) - set(KIND_LABELS))]:
        mine = by_kind.get(kind, [])
        if not mine:
            continue
        ok = [r for r in mine if r["s"] in OK_STATUS.get(kind, set())]
        latencies = [r["ms"] for r in mine if r["s"] > 0]
        statuses: dict[str, int] = {}
        for r in mine:
            label = str(r["s"]) if r["s"] > 0 else (r["e"] or "no answer")
            if r["s"] == -3:
                label = "sent to log in"
            statuses[label] = statuses.get(label, 0) + 1
        found.append(
            KindFigures(
                kind,
                len(mine),
                len(ok),
                len(ok) / seconds if seconds else 0.0,
                statistics.median(latencies) if latencies else 0.0,
                percentile(latencies, 0.99),
                dict(sorted(statuses.items())),
            )
        )
    return found


def figures_table(rows: list[KindFigures]) -> list[str]:
    lines = [
        "| what | requests | as expected | per second | p50 ms | p99 ms | answers |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in f.statuses.items())
        lines.append(
            f"| {KIND_LABELS.get(f.kind, f.kind)} | {f.count} | {f.ok} | {f.per_second:.1f} "
            f"| {f.p50:.0f} | {f.p99:.0f} | {answers} |"
        )
    return lines


def server_errors(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records if r["s"] >= 500)


def no_answers(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records if r["s"] == 0)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit + (" with uncommitted changes" if dirty else ""),
    }


def uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)  # noqa: S607
    return done.stdout.strip()


def busiest_processes(count: int = 5) -> list[str]:
    """What else ran on the machine (the biggest CPU users now), for the record."""
    done = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return [line.strip() for line in done.stdout.splitlines()[1 : count + 1]]


def integrity_lines(
    report: dict[str, Any], downloads: list[str], audit: tuple[bool, str]
) -> list[str]:
    """The checks as markdown bullets, each saying what held (or what did not)."""

    def verdict(ok: bool) -> str:
        return "yes" if ok else "**NO**"

    lines = [
        f"- every 201 is a request in the database: {verdict(not report['lost'])} "
        f"({report['acknowledged']} acknowledged, {len(report['lost'])} missing)",
        f"- one request per submission, one answer per request: "
        f"{verdict(not report['two_answers'] and not report['wrong_reference'])} "
        f"({len(report['two_answers'])} submissions answered with two references, "
        f"{len(report['wrong_reference'])} answered with another request's)",
        f"- the same bytes posted twice at once ({report['pairs']} pairs) got one request: "
        f"{verdict(not report['split_pairs'])}",
        f"- requests stored without a 201 reaching the client: {len(report['orphans'])}"
        + (f" ({', '.join(report['orphans'][:5])})" if report["orphans"] else ""),
        f"- requests nobody sent: {len(report['unknown_rows'])}",
        f"- one `legal_request.received` audit event per request: "
        f"{verdict(report['received_events'] == report['requests_total'])} "
        f"({report['received_events']} events, {report['requests_total']} requests)",
        f"- every stored legal document is the one declared (size, SHA-256): "
        f"{verdict(not report['bad_attachments'])}"
        + (f" ({'; '.join(report['bad_attachments'][:3])})" if report["bad_attachments"] else ""),
        f"- hand-overs answered 302 that have a disclosure: "
        f"{verdict(not report['lost_disclosures'])} ({report['disclosures_told']} answered)",
        f"- disclosures: {report['disclosures']} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report['disclosure_states'].items()))}); "
        f"sealed responses {report['sealed']}, sealed twice: {len(report['sealed_twice'])}",
        f"- every sealed file downloads through the API as listed (size, SHA-256) and opens "
        f"with the officer's age identity: {verdict(not downloads and not report['bad_sealed'])}"
        + (f" ({'; '.join((downloads + report['bad_sealed'])[:3])})" if downloads else ""),
        f"- files in the storage that no row refers to: {len(report['stray_files'])}"
        + (
            " ("
            + ", ".join(f"`{n}` {s} bytes" for n, s in list(report["stray_files"].items())[:4])
            + ")"
            if report["stray_files"]
            else ""
        ),
        f"- `manage.py verify_audit`: {verdict(audit[0])} ({audit[1]})",
    ]
    return lines


def integrity_ok(report: dict[str, Any], downloads: list[str], audit: tuple[bool, str]) -> bool:
    return not (
        report["lost"]
        or report["two_answers"]
        or report["wrong_reference"]
        or report["split_pairs"]
        or report["unknown_rows"]
        or report["bad_attachments"]
        or report["lost_disclosures"]
        or report["sealed_twice"]
        or report["bad_sealed"]
        or downloads
        or report["received_events"] != report["requests_total"]
        or not audit[0]
    )
