"""Seal 1 GiB: the sealing pipeline's throughput as a share of the raw cipher's, and its memory.

What is compared, in the same run, on the same bytes (a 1 MiB pseudo-random block
repeated: a source that costs nothing, like /dev/zero, and that deflate cannot shrink):

``raw``
    ``pyrage.encrypt_io`` of SIZE bytes from that stream into a null sink: age alone.
``seal``
    ``requests_app.delivery.sealing.seal_to_file`` of a response as the portal builds it,
    ``response.json`` plus a SIZE-byte member ``files/data.bin`` streamed in 1 MiB chunks
    (never held whole), into a null sink: the ZIP framing and its CRC-32, age, and the
    SHA-256 of the ciphertext the portal records.
``seal-to-file``
    The same into a temporary file on disk, as ``response_seal`` does before handing the
    file to storage (for information: it adds the disk).
``idle``
    A process that only loads Django and the sealing module: the floor under every peak.

Each measurement runs in a fresh process, so its peak resident memory (``ru_maxrss``) is
its own; rounds alternate the kinds so that the machine's mood falls on all of them, and
the ratio uses the best round of each. The aims (issue 6): ``seal`` reaches at least 0.7
of ``raw``'s throughput, and peaks under 150 MB whatever the size.

    .venv/bin/python bench/seal.py                 # 1 GiB, 3 rounds, writes bench/RESULTS.md
    .venv/bin/python bench/seal.py --size 256MiB --rounds 5 --no-write

Run by hand, not in CI: the numbers depend on the machine and on what else it is doing.
"""

import argparse
import io
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- bench/seal.py: begin -->"
END = "<!-- bench/seal.py: end -->"
CHUNK = 1024 * 1024
RATIO_AIM = 0.7
MEMORY_AIM_MB = 150
KINDS = ("raw", "seal", "seal-to-file")


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


# --- One measurement, in a child process ------------------------------------------------------


class NullSink:
    """Writes go nowhere (a file-like object age and the hashing writer accept)."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass


class RepeatedBlock(io.RawIOBase):
    """``size`` bytes of ``block`` over and over, read like a file: the raw cipher's input."""

    def __init__(self, block: bytes, size: int) -> None:
        self.block = memoryview(block)
        self.left = size
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.left, len(self.block) - self.offset)
        buffer[:count] = self.block[self.offset : self.offset + count]
        self.offset = (self.offset + count) % len(self.block)
        self.left -= count
        return count


def child(kind: str, size: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Not bench/ itself on the path: a file there named like a standard module would be
    # picked up by Django's imports instead.
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if p and Path(p).resolve() != here]
    import django

    django.setup()
    import pyrage

    from requests_app.delivery.sealing import seal_to_file

    block = os.urandom(CHUNK)
    recipient = pyrage.x25519.Identity.generate().to_public()

    def member():  # the same bytes as RepeatedBlock, one chunk at a time
        for _ in range(size // CHUNK):
            yield block

    response_json = json.dumps({"reference": "LR-BENCH", "records": []}).encode()
    result: dict[str, Any] = {"kind": kind, "size": size}
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    if kind == "raw":
        pyrage.encrypt_io(RepeatedBlock(block, size), NullSink(), [recipient])
    elif kind == "seal":
        written = seal_to_file(
            [("response.json", response_json), ("files/data.bin", member())],
            [str(recipient)],
            NullSink(),  # type: ignore[arg-type]
        )
        result["sealed_size"] = written.size
    elif kind == "seal-to-file":
        with tempfile.TemporaryFile() as out:
            written = seal_to_file(
                [("response.json", response_json), ("files/data.bin", member())],
                [str(recipient)],
                out,
            )
        result["sealed_size"] = written.size
    elif kind != "idle":
        raise SystemExit(f"unknown kind {kind}")
    result["seconds"] = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(kind: str, size: int) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--child", kind, "--size", str(size)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        hint = (
            "\nseal_to_file must accept streamed members (a file or an iterable of chunks);"
            " see the change to requests_app/delivery/sealing.py that came with this bench."
            if "has no len()" in done.stderr
            else ""
        )
        raise SystemExit(f"{kind} failed:\n{done.stdout}{done.stderr}{hint}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The run ----------------------------------------------------------------------------


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    cpu = models[0] if models else cpu
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" pyrage {version('pyrage')}; load average before the run {load}"
    )


def report(size: int, runs: list[dict[str, Any]], idle: dict[str, Any], before: str) -> str:
    def of(kind: str, key: str) -> list[float]:
        return [r[key] for r in runs if r["kind"] == kind]

    wall = {k: size / min(of(k, "seconds")) / 1e6 for k in KINDS}
    cpu = {k: size / min(of(k, "cpu_seconds")) / 1e6 for k in KINDS}
    peak = {k: max(of(k, "maxrss_mb")) for k in KINDS}
    ratio_wall = wall["seal"] / wall["raw"]
    ratio_cpu = cpu["seal"] / cpu["raw"]
    rounds = len(of("raw", "seconds"))
    every = {k: ", ".join(f"{size / t / 1e6:.0f}" for t in of(k, "seconds")) for k in KINDS}

    def verdict(ok: bool) -> str:
        return "meets it" if ok else "misses it"

    today = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_after = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        BEGIN,
        "## Sealing (bench/seal.py)",
        "",
        f"{today}. {before}; load average after the run {load_after}.",
        f"{human(size)} per run, {rounds} rounds alternating the kinds, each run in a fresh",
        "process. Wall-clock throughput is the size over the best round's time; CPU throughput",
        "the size over the process's least CPU time (user + system) for it, which a busy",
        "machine disturbs far less. Every kind here runs on one thread, so on an idle",
        "machine the two agree.",
        "",
        "| kind | wall clock, best MB/s | every round, MB/s | CPU time, MB/s | peak RSS, MB |",
        "|---|---|---|---|---|",
        *(f"| {k} | {wall[k]:.0f} | {every[k]} | {cpu[k]:.0f} | {peak[k]:.0f} |" for k in KINDS),
        f"| idle (Django and the sealing module loaded) | | | | {idle['maxrss_mb']:.0f} |",
        "",
        f"**seal / raw = {ratio_cpu:.2f} by CPU time, {ratio_wall:.2f} by wall clock**"
        f" (aim: at least {RATIO_AIM}: {verdict(min(ratio_cpu, ratio_wall) >= RATIO_AIM)}).",
        f"**Peak memory of a seal: {peak['seal']:.0f} MB**, of which {idle['maxrss_mb']:.0f} MB"
        f" is the process with Django loaded (aim: under {MEMORY_AIM_MB} MB:"
        f" {verdict(peak['seal'] < MEMORY_AIM_MB)}).",
        "",
        "`raw` is `pyrage.encrypt_io` into a null sink; `seal` is `seal_to_file` (a ZIP of",
        "`response.json` and a streamed `files/data.bin`, age, SHA-256 of the ciphertext) into",
        "a null sink; `seal-to-file` writes the ciphertext to a temporary file as",
        "`response_seal` does. The data is a 1 MiB random block, repeated.",
        "",
        "Where the difference goes: a seal does three things age alone does not, the CRC-32",
        "that every ZIP member needs, the SHA-256 of the ciphertext that the portal records",
        "and shows, and the reads between the ZIP writer and age. They run on the thread",
        "that encrypts: pyrage holds the GIL while it encrypts, so a hashing thread would",
        "mostly wait for it (tried: slower than one thread).",
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
    parser.add_argument("--child", choices=(*KINDS, "idle"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size)))
        return 0

    before = machine()
    print(f"sealing {human(args.size)}, {args.rounds} rounds; {before}", flush=True)
    idle = measure("idle", args.size)
    runs = []
    for number in range(args.rounds):
        order = KINDS if number % 2 == 0 else tuple(reversed(KINDS))
        for kind in order:
            result = measure(kind, args.size)
            runs.append(result)
            print(
                f"round {number + 1} {kind:>12}: {args.size / result['seconds'] / 1e6:6.0f} MB/s,"
                f" {args.size / result['cpu_seconds'] / 1e6:6.0f} MB/s of CPU,"
                f" peak {result['maxrss_mb']:.0f} MB",
                flush=True,
            )
    section = report(args.size, runs, idle, before)
    print(section)
    if args.write:
        write_results(section)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
