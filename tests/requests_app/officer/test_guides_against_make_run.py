"""The guides' commands, as printed, against `make run` and the demo files it prints.

`make run` (the real Makefile target, on a free port, with its state in a temporary
folder) seeds the demo officer's case system: an approved Ed25519 key, an approved age
identity, an API token and a request answered with a sealed response, in a folder only
its owner can read. The test then runs, in bash, the two lines `seed_demo` printed (``cd``
to that folder and ``export PORTAL=... TOKEN=... REFERENCE=...``) followed by step 2 of
each guide, read from the published text: the submission is accepted and its receipt
verifies; the response downloads, decrypts with `age` and verifies with `openssl`.

The database was seeded once before `make run` seeds it again: the files of the first
seeding must be the ones that still work.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.requests_app.delivery import test_receiving_a_response as receiving
from tests.requests_app.intake import test_readme_commands as submitting

pytestmark = pytest.mark.needs_commands(
    "make", "bash", "openssl", "jq", "curl", "age", "age-keygen", "unzip", "sha256sum"
)

STARTUP_SECONDS = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def portal_env(state: Path) -> dict[str, str]:
    """A development portal whose database, keys and files all live under ``state``.

    Nothing of the test process leaks in (no DATABASE_URL of the test run, no broker).
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "LC_ALL": "C.UTF-8",
        "PORTAL_MODE": "development",
        "DATABASE_URL": f"sqlite:///{state / 'portal.sqlite3'}",
        "SEALED_STORAGE_DIR": str(state / "sealed"),
        "PORTAL_SIGNING_KEY_FILE": str(state / "portal-signing-key.pem"),
        "PORTAL_STORAGE_KEY_FILE": str(state / "portal-storage-key.txt"),
        "PORTAL_DEMO_DIR": str(state / "demo"),
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@dataclass
class MakeRun:
    port: int
    demo: Path
    output: str
    first_seeding: dict[str, str]

    def printed(self, prefix: str) -> str:
        """The line `seed_demo` printed that starts (after its indent) with ``prefix``."""
        lines = [line.strip() for line in self.output.splitlines()]
        found = [line for line in lines if line.startswith(prefix)]
        assert len(found) == 1, self.output
        return found[0]


def _wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run stopped:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (http://127.0.0.1)
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"make run did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory) -> Iterator[MakeRun]:
    state = tmp_path_factory.mktemp("make-run")
    env = portal_env(state)
    for step in (("migrate", "--no-input", "-v", "0"), ("seed_demo",)):
        done = manage(*step, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    first_seeding = digests(state / "demo")

    port = free_port()
    log = state / "make-run.log"
    with log.open("w") as output:
        # -o: the virtual environment counts as installed (it is: this test runs in it).
        process = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, the server, its reloader
        )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/v1/portal-key", process, log)
        yield MakeRun(port, state / "demo", log.read_text(), first_seeding)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def run_as_printed(run: MakeRun, block: str) -> subprocess.CompletedProcess[str]:
    """The two lines seed_demo printed, then a guide's block, in bash, stopping at a failure."""
    script = "\n".join([run.printed("cd "), run.printed("export PORTAL="), block])
    return subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-c", script],
        cwd=run.demo.parent,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(run.demo), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_run_prints_the_demo_files_which_only_their_owner_can_read(make_run) -> None:
    assert make_run.printed("export PORTAL=").startswith(
        f"export PORTAL=http://localhost:{make_run.port} "
    )
    assert f"Demo logins: open http://localhost:{make_run.port}/login/" in make_run.output
    for name in ("key.pem", "public.pem", "identity.txt", "token", "order.pdf", "reference"):
        path = make_run.demo / name
        assert make_run.printed(name).split()[1] == str(path)
        assert path.stat().st_mode & 0o077 == 0, name
    assert make_run.demo.stat().st_mode & 0o077 == 0
    # Seeding again (make run did) kept every file: the first seeding's files still work.
    assert digests(make_run.demo) == make_run.first_seeding


def test_the_submission_guide_runs_as_printed_against_make_run(make_run) -> None:
    _make_key, submit = submitting.published_blocks()

    ran = run_as_printed(make_run, submit)

    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    lines = ran.stdout.splitlines()
    assert "HTTP 201" in lines, output
    assert "Signature Verified Successfully" in lines, output
    assert "The receipt is for exactly the bytes you signed." in lines, output


def test_the_receiving_guide_runs_as_printed_against_make_run(make_run) -> None:
    _make_identity, receive = receiving.published_blocks()
    reference = (make_run.demo / "reference").read_text().strip()

    ran = run_as_printed(make_run, receive)

    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    lines = ran.stdout.splitlines()
    assert "response.age: OK" in lines, output
    assert "Signature Verified Successfully" in lines, output
    assert f"The response answers {reference}." in lines, output
    assert any(re.fullmatch(r"files/1-username-\S+: OK", line) for line in lines), output
    assert "DIFFERS" not in output


# --- The audience follows the port ---------------------------------------------------------


def audience_settings(env: dict[str, str]) -> list[str]:
    shown = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.PORTAL_AUDIENCE, s.OTP_WEBAUTHN_RP_ID, *s.OTP_WEBAUTHN_ALLOWED_ORIGINS)",
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.split()


def test_the_audience_and_the_passkey_origin_follow_the_port_unless_set(tmp_path) -> None:
    env = portal_env(tmp_path)

    assert audience_settings(env) == ["http://localhost:8000", "localhost", "http://localhost:8000"]
    assert audience_settings(env | {"PORT": "8812"}) == [
        "http://localhost:8812",
        "localhost",
        "http://localhost:8812",
    ]
    assert audience_settings(
        env | {"PORT": "8812", "PORTAL_AUDIENCE": "http://portal.test:9000"}
    ) == ["http://portal.test:9000", "portal.test", "http://portal.test:9000"]


def test_make_run_passes_the_audience_of_its_port_to_the_portal(tmp_path) -> None:
    def dry_run(**variables: str) -> str:
        shown = subprocess.run(
            ["make", "--no-print-directory", "-n", "-o", ".venv/.installed", "run", "PORT=8812"],
            cwd=ROOT,
            env=portal_env(tmp_path) | variables,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return shown.stdout

    commands = [line for line in dry_run().splitlines() if "manage.py seed_demo" in line]
    commands += [line for line in dry_run().splitlines() if "manage.py runserver" in line]
    assert len(commands) == 2
    assert all("PORTAL_AUDIENCE=http://localhost:8812 " in line for line in commands)
    assert "runserver 127.0.0.1:8812" in commands[1]
    given = dry_run(PORTAL_AUDIENCE="http://portal.test:9000")
    assert "PORTAL_AUDIENCE=http://portal.test:9000 " in given
