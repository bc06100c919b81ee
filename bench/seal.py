"""Sealing: ``response_seal`` as shipped, against the stock ``age`` tool on the same ZIP bytes.

Baseline: ``/usr/bin/age -r RECIPIENT ... -o FILE response.zip``, the stock age command-line
tool encrypting the very ZIP bytes that ``response_seal`` sealed (decrypted once from its
output with ``age -d``), to the same recipients, into a file in the same storage folder.
Measured in the same run, wall clock, rounds alternating the two.

``response_seal``
    ``requests_app.delivery.sealing.response_seal`` of a real disclosure (the demo's
    answered request, made through the real intake and review) whose approved scope holds
    one SIZE-byte platform file: the database reads, the certificate, the ZIP (CRC-32),
    the file's SHA-256 checked against its listing, the encryption in a process of its
    own between two pipes (as shipped: the age tool, the Go binary the AGE_TOOL setting
    names, by default the ``age`` on PATH; with ``AGE_TOOL=`` empty in the environment,
    pyrage in a Python child, the fallback), the ciphertext's SHA-256, the file written
    straight into the storage's folder, the rows and the audit event. Timed inside its own
    process around the call, after ``portal.pdf.pdf_engine_load`` (WeasyPrint, Pango,
    fonts), as a Celery worker process runs it once when it starts (its time is reported
    apart); its CPU time includes the encryption process's; its peak resident memory is
    that process's (``ru_maxrss``), Django included. (The encryption process's own peak is
    about the ``age`` kind's, or the ``pyrage`` kind's for the fallback: the kernel charges
    a child started with vfork the parent's pages, so its ``ru_maxrss`` would say nothing.)
``age``
    The baseline above, timed around the process (start included).
``pyrage`` (for information)
    ``pyrage.encrypt_file`` of the same ZIP file into a file: the encryption alone, as the
    seal's fallback child (no age tool) runs it, there from a pipe into a pipe; a ceiling
    for any sealing path built on it.
``parts`` (for information)
    CPU seconds, one thread, of each step the shipped path adds to age over the same bytes
    (SHA-256, CRC-32), to show where the time goes and what two cores allow.

    .venv/bin/python bench/seal.py                      # 1 GiB, 3 rounds, writes bench/RESULTS.md
    .venv/bin/python bench/seal.py --size 256MiB --rounds 2 --no-write
    AGE_TOOL= .venv/bin/python bench/seal.py --no-write   # the fallback: pyrage's child

It makes (and drops afterwards) its own PostgreSQL database (``--database-url``, whose name
must contain ``bench``) and a working folder (``--work-dir``). Run by hand, not in CI.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- bench/seal.py: begin -->"
END = "<!-- bench/seal.py: end -->"
CHUNK = 1024 * 1024
RATIO_AIM = 0.7
MEMORY_AIM_MB = 150
AGE = shutil.which("age") or "/usr/bin/age"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*(B|KiB|MiB|GiB)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1GiB, 256MiB)")
    unit = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[match.group(2) or "B"]
    size = int(match.group(1)) * unit
    if size % CHUNK:
        raise argparse.ArgumentTypeError("the size must be a whole number of MiB")
    return size


def human(size: int) -> str:
    return f"{size // 1024**3} GiB" if size % 1024**3 == 0 else f"{size // 1024**2} MiB"


# --- In a child process ----------------------------------------------------------------------


def django_setup() -> None:
    # Not bench/ itself on the path: a file there named like a standard module would be
    # picked up by Django's imports instead.
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() != here]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def child_setup(size: int, work: Path) -> dict[str, Any]:
    """Migrate, seed the demo's answered request, and put a SIZE-byte file in its scope."""
    django_setup()
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from accounts.demo import seed_demo_accounts, seed_demo_case_system
    from requests_app.delivery.models import Disclosure, SealedResponse
    from requests_app.demo import ANSWERED_TARGET, demo_order_pdf, seed_demo_answered_request
    from requests_app.demo_source.models import PlatformAccount, PlatformFile

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        seed_demo_accounts()
        case_system = seed_demo_case_system(directory=work / "demo", order_pdf=demo_order_pdf())
    answered = seed_demo_answered_request(
        officer=case_system.officer,
        private_key=case_system.private_key,
        key=case_system.signing_key,
        recipient=case_system.recipient.recipient,
    )
    disclosure = Disclosure.objects.get(request=answered)
    # A video the platform holds for the target, inside the approved period and categories:
    # a 1 MiB random block repeated (deflate could not shrink it; it is stored, not deflated).
    block = os.urandom(CHUNK)
    digest = hashlib.sha256()
    name = f"platform/bench-{size}.bin"
    path = Path(default_storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for _ in range(size // CHUNK):
            out.write(block)
            digest.update(block)
    account, _created = PlatformAccount.objects.get_or_create(
        username=ANSWERED_TARGET,
        defaults={
            "user_id": "bench-1",
            "phone_number": "+4915100000099",
            "registered_at": timezone.now() - timedelta(days=900),
        },
    )
    PlatformFile.objects.create(
        account=account,
        name="video.mp4",
        media_type="video/mp4",
        category=answered.data_categories[0],
        at=timezone.now() - timedelta(days=1),
        size=size,
        sha256=digest.hexdigest(),
        content=name,
    )
    SealedResponse.objects.filter(disclosure=disclosure).delete()
    return {"disclosure_id": disclosure.pk, "identity": str(work / "demo" / "identity.txt")}


def child_seal(disclosure_id: int, size: int) -> dict[str, Any]:
    """Seal the disclosure again from scratch, timing ``response_seal`` alone."""
    django_setup()
    from django.conf import settings

    from portal.pdf import pdf_engine_load
    from requests_app.delivery.models import Disclosure, SealedResponse
    from requests_app.delivery.sealing import response_seal

    # As a Celery worker process does when it starts (portal.celery): timed apart.
    started = time.perf_counter()
    pdf_engine_load()
    engine_seconds = time.perf_counter() - started
    for earlier in SealedResponse.objects.filter(disclosure_id=disclosure_id):
        earlier.file.delete(save=False)
        earlier.delete()
    Disclosure.objects.filter(pk=disclosure_id).update(state=Disclosure.State.PENDING)
    before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, thread_started = time.perf_counter(), time.thread_time()
    sealed = response_seal(disclosure_id=disclosure_id)
    seconds, thread_cpu = time.perf_counter() - started, time.thread_time() - thread_started
    after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    age_cpu = (children.ru_utime - children_before.ru_utime) + (
        children.ru_stime - children_before.ru_stime
    )
    if sealed is None:
        raise SystemExit("response_seal refused the disclosure (no active recipient?)")
    if sealed.size < size:
        raise SystemExit(f"the sealed response has {sealed.size} bytes: the file is not in it")
    return {
        "seconds": seconds,
        "cpu_seconds": (after.ru_utime - before.ru_utime)
        + (after.ru_stime - before.ru_stime)
        + age_cpu,
        "age_process_cpu_seconds": age_cpu,
        "age_tool": settings.AGE_TOOL,
        "pdf_engine_seconds": engine_seconds,
        "maxrss_mb": after.ru_maxrss / 1024,
        "maxrss_before_mb": before.ru_maxrss / 1024,
        "calling_thread_cpu_seconds": thread_cpu,
        "file": sealed.file.path,
        "sealed_size": sealed.size,
        "recipients": sealed.recipients,
    }


def child_pyrage(zip_path: str, recipients: list[str], out: str) -> dict[str, Any]:
    import pyrage

    parsed = [pyrage.x25519.Recipient.from_str(r) for r in recipients]
    started = time.perf_counter()
    pyrage.encrypt_file(zip_path, out, parsed)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,
    }


def child_parts(zip_path: str) -> dict[str, Any]:
    """CPU seconds of each hash over the ZIP, one thread, reading it in 1 MiB pieces."""

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        return usage.ru_utime + usage.ru_stime

    parts: dict[str, Any] = {}
    for name, step in (
        ("read", lambda piece, state: state),
        ("sha256", lambda piece, state: state.update(piece) or state),
        ("crc32", lambda piece, state: zlib.crc32(piece, state)),
    ):
        state: Any = hashlib.sha256() if name == "sha256" else 0
        started = cpu()
        with open(zip_path, "rb") as source:
            while piece := source.read(CHUNK):
                state = step(piece, state)
        parts[name] = cpu() - started
    return parts


# --- The run ---------------------------------------------------------------------------------


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_age(recipients: list[str], zip_path: Path, out: Path) -> dict[str, Any]:
    """The baseline, timed around the process; its CPU and peak memory from wait4."""
    command = [AGE, *(arg for r in recipients for arg in ("-r", r)), "-o", str(out), str(zip_path)]
    started = time.perf_counter()
    process = subprocess.Popen(command)  # noqa: S603 (the stock age tool, our arguments)
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"age failed with exit code {process.returncode}")
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,
    }


def database_reset(url: str, *, create: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"the benchmark's database name must contain 'bench' (got {name!r})")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    age_version = subprocess.run(  # noqa: S603
        [AGE, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"{models[0] if models else platform.machine()}, {os.cpu_count()} CPUs, Python"
        f" {platform.python_version()}, pyrage {version('pyrage')}, age {age_version}"
    )


def mbps(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def report(size: int, runs: list[dict[str, Any]], parts: dict[str, Any], load_before: str) -> str:
    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in runs if r["kind"] == kind]

    # A ratio per round: the seal and the age run next to each other in time.
    rounds = sorted({r["round"] for r in runs})
    ratios = [
        next(r for r in of("age") if r["round"] == n)["seconds"]
        / next(r for r in of("response_seal") if r["round"] == n)["seconds"]
        for n in rounds
    ]
    median = statistics.median(ratios)
    peak = max(r["maxrss_mb"] for r in of("response_seal"))
    loaded = max(r["maxrss_before_mb"] for r in of("response_seal"))
    best = min(of("response_seal"), key=lambda r: r["cpu_seconds"])

    def row(kind: str) -> str:
        every = ", ".join(f"{mbps(size, r['seconds']):.0f}" for r in of(kind))
        cpu = min(r["cpu_seconds"] for r in of(kind))
        return (
            f"| {kind} | {statistics.median(mbps(size, r['seconds']) for r in of(kind)):.0f}"
            f" | {every} | {mbps(size, cpu):.0f} | {max(r['maxrss_mb'] for r in of(kind)):.0f} |"
        )

    age_cpu = min(r["cpu_seconds"] for r in of("age"))
    pyrage_cpu = min(r["cpu_seconds"] for r in of("pyrage"))
    hashes = 2 * parts["sha256"] + parts["crc32"]
    cores = os.cpu_count() or 1

    def ceiling(child_cpu: float) -> tuple[float, float]:
        # However well the steps overlap, the seal needs its child's encryption (one stream)
        # on one core, and all its CPU work spread over every core: the better of the two
        # bounds its wall time, and so its ratio to age.
        bound = max(child_cpu, (child_cpu + hashes) / cores)
        return bound, age_cpu / bound

    tool = best["age_tool"]
    if tool:
        child = f"age (the Go tool `{tool}`, the AGE_TOOL setting)"
        name, other = "age", "pyrage"
        difference = "the two SHA-256 and the CRC-32 that the baseline does not do"
        bound, limit = ceiling(age_cpu)
        other_limit = ceiling(pyrage_cpu)[1]
    else:
        child = "pyrage in a Python child (the fallback: AGE_TOOL was empty)"
        name, other = "pyrage", "the age tool"
        difference = (
            "pyrage's encryption, slower than age's, and the two SHA-256 and the CRC-32 that"
            " the baseline does not do"
        )
        bound, limit = ceiling(pyrage_cpu)
        other_limit = ceiling(age_cpu)[1]
    verdict = "meets it" if median >= RATIO_AIM else "misses it"
    busy = float(load_before.split(",")[0]) > cores
    warning = (
        [
            f"**The machine was busy** (load average {load_before} on {cores} CPUs): the"
            " kinds ran among other work, and the threads of response_seal found no core to"
            " spare. Run it again on a quiet machine before drawing conclusions.",
            "",
        ]
        if busy
        else []
    )
    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "## Sealing (bench/seal.py)",
        "",
        "Baseline: the stock `age` tool (`age -r ... -o FILE response.zip`) encrypting the same",
        "ZIP bytes to the same recipients, in the same run. Measured: `response_seal` as shipped,",
        f"its encryption process being {child}.",
        "",
        f"{today}. {machine()}. Load average before the run {load_before}, after {load()}.",
        f"{human(size)} file in the response, {len(rounds)} rounds alternating the kinds, each",
        "run in a fresh process. Throughput is the size over the wall-clock time.",
        "",
        *warning,
        "| kind | median MB/s | every round, MB/s | by its least CPU time, MB/s | peak RSS, MB |",
        "|---|---|---|---|---|",
        row("response_seal"),
        row("age"),
        row("pyrage"),
        "",
        f"**response_seal / age = {median:.2f}** (median of the rounds' ratios; every round:"
        f" {', '.join(f'{r:.2f}' for r in ratios)}; aim at least {RATIO_AIM}: {verdict}).",
        f"**Peak memory of response_seal: {peak:.0f} MB** for {human(size)}, Django included"
        f" (aim: under {MEMORY_AIM_MB} MB: {'meets it' if peak < MEMORY_AIM_MB else 'misses it'});"
        f" the process had reached {loaded:.0f} MB before the call (Django, the models)."
        f" Its encryption process peaks at about the {name} row's figure.",
        f"Of response_seal's {best['cpu_seconds']:.2f} CPU seconds (its best round), the"
        f" encryption process ({name}) used {best['age_process_cpu_seconds']:.2f}, the calling"
        " thread (the"
        " ciphertext's SHA-256 and write, the database, the certificate)"
        f" {best['calling_thread_cpu_seconds']:.2f}, and the archive thread (reading the file,"
        " its SHA-256, the CRC-32, the pipe to age) the rest. Not counted: loading the PDF"
        " engine (WeasyPrint, its fonts), which a Celery worker process does once as it starts"
        f" and the first seal of a fresh process would pay: {best['pdf_engine_seconds']:.2f} s.",
        "",
        "Where the time goes (CPU seconds over the ZIP, one thread): age (Go)"
        f" {age_cpu:.2f}; pyrage {pyrage_cpu:.2f} (the fallback child's encryption, for"
        f" information); SHA-256 {parts['sha256']:.2f} (twice: the file against its listing,"
        f" the ciphertext that is recorded); CRC-32 {parts['crc32']:.2f}; reading the file"
        f" {parts['read']:.2f}. The seal encrypts in a process of its own ({name}), beside a",
        "thread that builds the ZIP and the calling thread that hashes the ciphertext (hashlib",
        "and zlib release the GIL on large buffers). The encryption is one stream on one core,",
        f"so on {cores} CPUs the seal's wall time is at least max({name}, all the work /"
        f" {cores}) = {bound:.2f} s: **a ceiling of {limit:.2f} for response_seal / age here**,",
        f"before the pipes, the ZIP framing and the database work: {difference} are the",
        f"difference. With {other} as the encryption process the ceiling would be"
        f" {other_limit:.2f}.",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_results(section: str) -> None:
    """Replace this benchmark's section of RESULTS.md, or append it; leave the rest alone."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1GiB"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/portal_seal_bench"
    )
    parser.add_argument("--work-dir", default=None, help="where the files go (default: a temp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "setup":
            result = child_setup(args.size, Path(rest[0]))
        elif kind == "seal":
            result = child_seal(int(rest[0]), args.size)
        elif kind == "pyrage":
            result = child_pyrage(rest[0], rest[2:], rest[1])
        elif kind == "parts":
            result = child_parts(rest[0])
        else:
            raise SystemExit(f"unknown child {kind}")
        print(json.dumps(result))
        return 0

    if not Path(AGE).exists():
        raise SystemExit("the baseline needs the stock age tool: apt-get install age")
    load_before = load()
    print(f"sealing {human(args.size)}, {args.rounds} rounds; {machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="seal-bench-", dir=args.work_dir))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": args.database_url,
        "SEALED_STORAGE_DIR": str(work / "storage"),
        "PORTAL_SIGNING_KEY_FILE": str(work / "keys" / "signing.pem"),
        "PORTAL_STORAGE_KEY_FILE": str(work / "keys" / "storage.txt"),
        "TOTP_SEED_KEY_FILE": str(work / "keys" / "totp.txt"),
        "CELERY_BROKER_URL": "",
        "CACHE_URL": "",
    }
    (work / "keys").mkdir(mode=0o700)
    database_reset(args.database_url, create=True)
    try:
        setup = run_child(env, "setup", str(work), "--size", str(args.size))
        runs: list[dict[str, Any]] = []
        zip_path = work / "response.zip"
        age_out = work / "storage" / "sealed" / "baseline.age"
        recipients: list[str] = []
        for number in range(1, args.rounds + 1):
            order = ("seal", "age", "pyrage") if number % 2 else ("pyrage", "age", "seal")
            if number == 1:  # the ZIP bytes the baseline encrypts come from the first seal
                order = ("seal", "age", "pyrage")
            for kind in order:
                if kind == "seal":
                    result = run_child(
                        env, "seal", str(setup["disclosure_id"]), "--size", str(args.size)
                    )
                    result["kind"] = "response_seal"
                    if not zip_path.exists():
                        subprocess.run(  # noqa: S603 (stock age opens what the portal sealed)
                            [
                                AGE,
                                "-d",
                                "-i",
                                setup["identity"],
                                "-o",
                                str(zip_path),
                                result["file"],
                            ],
                            check=True,
                        )
                        recipients = result["recipients"]
                elif kind == "age":
                    result = run_age(recipients, zip_path, age_out) | {"kind": "age"}
                else:
                    result = run_child(
                        env,
                        "pyrage",
                        str(zip_path),
                        str(age_out),
                        *recipients,
                        "--size",
                        str(args.size),
                    ) | {"kind": "pyrage"}
                result["round"] = number
                runs.append(result)
                print(
                    f"round {number} {result['kind']:>13}:"
                    f" {mbps(args.size, result['seconds']):6.0f} MB/s,"
                    f" peak {result['maxrss_mb']:.0f} MB, load {load()}",
                    flush=True,
                )
        parts = run_child(env, "parts", str(zip_path), "--size", str(args.size))
    finally:
        database_reset(args.database_url, create=False)
        shutil.rmtree(work, ignore_errors=True)
    section = report(args.size, runs, parts, load_before)
    print(section)
    if args.write:
        write_results(section)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
