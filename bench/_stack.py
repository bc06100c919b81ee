# ruff: noqa: S603, S607  (a benchmark starts its own processes, with fixed arguments)
"""The portal's real stack, owned by one benchmark run, for bench/load.py and bench/faults.py.

Everything here is started by the run and stopped by it, in one temporary folder: a
PostgreSQL cluster of its own (``initdb``, own port, own socket folder), a redis-server
of its own, gunicorn, Celery workers and Celery beat; optionally a small tmpfs for the
portal's file storage. Nothing touches the machine's shared PostgreSQL or Redis. The
``Stack`` context manager tears everything down on the way out, after an error, on
Ctrl-C and on SIGTERM.

The portal runs in production mode (``PORTAL_MODE=production``) with its own settings
module: the client plays the TLS proxy of README's production section and sends
``X-Forwarded-Proto: https`` and the portal's host name, so HTTPS-only cookies, CSRF's
origin check and the SSL redirect all apply as in production.
"""

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
HOST = "portal.load.invalid"  # the portal's name: the TLS proxy would send it as Host
AUDIENCE = f"https://{HOST}"
DATABASE = "portal_load_bench"
SNAPSHOT_IGNORE = (
    ".git",
    ".venv",
    "node_modules",
    "var",
    "test-results",
    "__pycache__",
    ".*_cache",
)


def free_port(preferred: int = 0) -> int:
    """``preferred`` if nothing listens there (and it is not 0), else a free port."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Signal a process started in its own session, and all of its group; wait for it."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class OwnPostgres:
    """A PostgreSQL 15 cluster of the run's own: initdb'd in a temporary folder."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.log = directory / "postgresql.log"
        self.process: subprocess.Popen | None = None
        # initdb and postgres refuse to run as root: as root, run them as "postgres".
        self.user = "postgres" if os.geteuid() == 0 else None

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.directory.mkdir(mode=0o700)
        if self.user:
            shutil.chown(self.directory, self.user, self.user)
        subprocess.run(
            [
                str(PG_BIN / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--locale", "C", "--no-instructions"),
            ],
            user=self.user,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    str(PG_BIN / "postgres"),
                    *("-D", str(self.data), "-p", str(self.port), "-k", str(self.directory)),
                    *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"),
                ],
                user=self.user,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.answers, timeout=60, what=f"PostgreSQL on port {self.port}")

    def answers(self) -> bool:
        import psycopg

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"postgres exited:\n{_tail(self.log)}")
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (SIGINT: roll back, disconnect, checkpoint) or ``immediate`` (SIGQUIT: a
        crash, recovered from the WAL at the next start)."""
        sig = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        if self.process is not None and self.process.poll() is None:
            # Only the postmaster: it stops its backends itself (a group signal would be a crash).
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                _stop(self.process, signal.SIGKILL)
        self.process = None

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url()) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return row[0] if row else "?"


class OwnRedis:
    """A redis-server of the run's own, without persistence: a restart loses the queue."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.log = directory / "redis.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.directory.mkdir(exist_ok=True)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.answers, timeout=20, what=f"redis-server on port {self.port}")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(), socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url(), socket_connect_timeout=1, socket_timeout=2)

    def version(self) -> str:
        return str(self.client().info("server").get("redis_version", "?"))


class _SmtpSession(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for Django's SMTP backend: accept and keep every message."""

    server: "SmtpSink"

    def handle(self) -> None:
        self.wfile.write(b"220 load-bench sink\r\n")
        lines: list[bytes] = []
        in_data = False
        for raw in self.rfile:
            if in_data:
                if raw.rstrip(b"\r\n") == b".":
                    in_data = False
                    self.server.messages.append(b"".join(lines))
                    lines = []
                    self.wfile.write(b"250 kept\r\n")
                else:
                    lines.append(raw)
                continue
            verb = raw[:4].upper()
            if verb == b"DATA":
                in_data = True
                self.wfile.write(b"354 go on, end with a dot\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


class SmtpSink(socketserver.ThreadingTCPServer):
    """The mail server of the run: the portal sends by SMTP, as in production."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.port = self.server_address[1]
        self.messages: list[bytes] = []
        threading.Thread(target=self.serve_forever, daemon=True, name="smtp-sink").start()

    def count(self, subject: str) -> int:
        return sum(1 for m in self.messages if f"Subject: {subject}".encode() in m)


class Service:
    """A portal process (gunicorn, a Celery worker, beat) in its own session, logged to a file."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log: Path, cwd: Path
    ) -> None:
        self.name = name
        self.cwd = cwd
        self.command = command
        self.env = env
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} starting {self.name}\n")
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None  # noqa: S101
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        """The pids whose parent is this process (a prefork worker's pool)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.pid:
                found.append(int(entry.name))
        return found

    def kill(self) -> None:
        """SIGKILL the whole process group at once: the machine or container died."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            with self.log.open("a") as log:
                log.write(f"--- {time.strftime('%H:%M:%S')} {self.name} killed (SIGKILL)\n")

    def stop(self) -> None:
        _stop(self.process, timeout=30)
        self.process = None


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks a process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class Stack:
    """The whole stack of one run. Use as a context manager; ``start()`` brings it up."""

    def __init__(
        self,
        *,
        gunicorn_workers: int,
        celery_concurrency: int,
        storage_mount: str = "",
        storage_size: str = "256m",
        pg_port: int = 55432,
        redis_port: int = 56379,
        http_port: int = 58000,
        keep: bool = False,
    ) -> None:
        self.gunicorn_workers = gunicorn_workers
        self.celery_concurrency = celery_concurrency
        self.storage_mount = storage_mount  # "", "tmpfs" or "loop"
        self.storage_size = storage_size
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="portal-load-"))
        # The postgres user must reach its cluster folder inside.
        self.workdir.chmod(0o711)
        # The code under test: a copy of the working tree as it is now, so that edits made
        # while the run goes on (by whoever works in the tree) cannot mix two versions.
        self.code = self.workdir / "code"
        try:
            shutil.copytree(ROOT, self.code, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE))
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.storage = self.workdir / "storage"
        self.storage_mounted_as = ""
        self.postgres = OwnPostgres(self.workdir / "pg", free_port(pg_port))
        self.redis = OwnRedis(self.workdir / "redis", free_port(redis_port))
        self.port = free_port(http_port)
        self.env: dict[str, str] = {}
        self.gunicorn: Service | None = None
        self.workers: list[Service] = []
        self.retired: list[Service] = []  # workers that died or were killed (their logs stay)
        self.beat: Service | None = None
        self.mail: SmtpSink | None = None
        self._previous_handlers: dict[int, Any] = {}

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    def __exit__(self, *exc: object) -> None:
        self.teardown()
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)

    def teardown(self) -> None:
        """Stop everything this run started, newest first, and remove its folder."""
        # Ctrl-C during teardown must not leave half of it behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for service in [self.beat, *self.workers, *self.retired, self.gunicorn]:
                if service is not None:
                    with contextlib.suppress(Exception):
                        service.stop()
            if self.mail is not None:
                self.mail.shutdown()
                self.mail.server_close()
            with contextlib.suppress(Exception):
                self.redis.stop()
            with contextlib.suppress(Exception):
                self.postgres.stop("fast")
            if self.storage_mounted_as:
                subprocess.run(["umount", str(self.storage)], check=False)
                if os.path.ismount(self.storage):
                    subprocess.run(["umount", "-l", str(self.storage)], check=False)
            if self.keep:
                print(f"kept {self.workdir} (logs, keys, the stopped cluster)")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, previous)

    def start(self, *, seed: dict[str, Any]) -> dict[str, Any]:
        """Bring up every part, migrate and seed; return the seed's spec (keys, tokens)."""
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database()
        self.redis.start()
        self._storage_prepare()
        self.mail = SmtpSink()
        self.env = self._portal_env()
        self._key_write(Path(self.env["PORTAL_SIGNING_KEY_FILE"]))
        self._storage_key_write(Path(self.env["PORTAL_STORAGE_KEY_FILE"]))
        manage = [sys.executable, str(self.code / "manage.py")]
        self.run(manage + ["migrate", "--no-input", "-v", "0"])
        self.run(manage + ["collectstatic", "--no-input", "-v", "0"])
        spec_path = self.workdir / "spec.json"
        self.run(
            [sys.executable, "-m", "bench._traffic", "seed", "--spec", str(spec_path)]
            + [f"--{key.replace('_', '-')}={value}" for key, value in seed.items()]
        )
        spec: dict[str, Any] = json.loads(spec_path.read_text())
        spec["spec_path"] = str(spec_path)
        self.gunicorn_start()
        self.worker_start()
        self.beat = Service(
            "celery beat",
            [
                *(sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO"),
                *("--schedule", str(self.workdir / "beat-schedule")),
                *("--pidfile", str(self.workdir / "beat.pid")),
            ],
            self.env,
            self.workdir / "beat.log",
            self.code,
        )
        self.beat.start()
        return spec

    def run(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, cwd=self.code, check=True, **kwargs)

    # --- parts ----------------------------------------------------------------------------

    def _storage_prepare(self) -> None:
        self.storage.mkdir()
        if self.storage_mount == "tmpfs":
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={self.storage_size},mode=0755", "tmpfs"]
                + [str(self.storage)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                self.storage_mounted_as = f"tmpfs of {self.storage_size}"
                return
            print(f"mount -t tmpfs failed ({done.stderr.strip()}); trying a loop-mounted ext4")
        if self.storage_mount in ("tmpfs", "loop"):
            image = self.workdir / "storage.img"
            steps = [
                ["truncate", "-s", self.storage_size.upper(), str(image)],
                ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)],
                ["mount", "-o", "loop", str(image), str(self.storage)],
            ]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise RuntimeError(
                        f"cannot mount a small file system for the storage: {' '.join(step)}: "
                        f"{done.stderr.strip()}"
                    )
            self.storage_mounted_as = f"loop-mounted ext4 image of {self.storage_size}"

    def _portal_env(self) -> dict[str, str]:
        ours = {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONPATH": str(self.code),
            "PORTAL_MODE": "production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": f"{HOST},127.0.0.1",
            "PORTAL_AUDIENCE": AUDIENCE,
            "DATABASE_URL": self.postgres.url(),
            "CELERY_BROKER_URL": self.redis.url(0),
            "EMAIL_URL": f"smtp://127.0.0.1:{self.mail.port if self.mail else 25}",
            "PORTAL_SIGNING_KEY_FILE": str(self.workdir / "portal-signing-key.pem"),
            "PORTAL_STORAGE_KEY_FILE": str(self.workdir / "portal-storage-key.txt"),
            "SEALED_STORAGE_DIR": str(self.storage),
            "STATIC_ROOT": str(self.workdir / "static"),
            # The limits still run on every submission (the Redis counters) but must not
            # refuse the benchmark's clients, which submit back to back from one address.
            # A one-second window keeps the cache entries as small as production's.
            "INTAKE_RATE_PER_TOKEN": "1000000/s",
            "INTAKE_RATE_PER_OFFICER": "1000000/s",
            "INTAKE_RATE_PER_ADDRESS": "1000000/s",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k not in ours
            and not k.startswith(("DJANGO_", "PYTEST_", "INTAKE_", "CELERY_", "PORTAL_"))
            and k not in ("DATABASE_URL", "CACHE_URL", "SECRET_KEY", "EMAIL_URL")
        }
        return {**inherited, **ours}

    @staticmethod
    def _key_write(path: Path) -> None:
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

    @staticmethod
    def _storage_key_write(path: Path) -> None:
        """The age identity legal documents are stored to (``age-keygen -o``'s format)."""
        import pyrage

        identity = pyrage.x25519.Identity.generate()
        path.write_text(f"# public key: {identity.to_public()}\n{identity}\n", encoding="ascii")
        path.chmod(0o600)

    def gunicorn_start(self) -> None:
        self.gunicorn = Service(
            "gunicorn",
            [
                *(sys.executable, "-m", "gunicorn", "portal.wsgi:application"),
                *("--workers", str(self.gunicorn_workers), "--worker-class", "sync"),
                *("--bind", f"127.0.0.1:{self.port}", "--backlog", "2048"),
                *("--log-level", "warning"),
            ],
            self.env,
            self.workdir / "gunicorn.log",
            self.code,
        )
        self.gunicorn.start()
        wait_until(
            lambda: self.http_get("/api/v1/portal-key")[0] == 200,
            timeout=90,
            what="gunicorn to serve",
            every=0.5,
        )

    def worker_retire(self, worker: Service) -> None:
        """Forget a worker that is gone (its log is still read)."""
        self.workers.remove(worker)
        self.retired.append(worker)

    def worker_start(self) -> Service:
        number = len(self.workers) + len(self.retired) + 1
        worker = Service(
            f"celery worker {number}",
            [
                *(sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO"),
                *("--concurrency", str(self.celery_concurrency)),
                *("--hostname", f"load-{number}@%h"),
            ],
            self.env,
            self.workdir / f"worker-{number}.log",
            self.code,
        )
        worker.start()
        self.workers.append(worker)
        wait_until(
            lambda: "ready." in worker.log.read_text(errors="replace"),
            timeout=90,
            what=f"celery worker {number} to be ready",
            every=0.5,
        )
        return worker

    def http_get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET through the loopback as the TLS proxy would pass it on; (0, error) if no answer."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request(
                "GET", path, headers={"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})}
            )
            response = conn.getresponse()
            body = response.read()
            conn.close()
        except OSError as exc:
            return 0, str(exc).encode()
        return response.status, body

    def logs(self) -> dict[str, Path]:
        found = {"gunicorn": self.workdir / "gunicorn.log", "beat": self.workdir / "beat.log"}
        found.update({w.name: w.log for w in [*self.retired, *self.workers]})
        return found

    def log_lines(self, *needles: str, since: int = 0) -> list[str]:
        """Lines of every portal log that contain one of ``needles`` (from byte ``since``)."""
        lines = []
        for name, path in self.logs().items():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(since if name == "gunicorn" else 0)
                for raw in handle:
                    line = raw.decode(errors="replace").rstrip()
                    if any(needle in line for needle in needles):
                        lines.append(f"{name}: {line}")
        return lines

    def versions(self) -> dict[str, str]:
        import celery
        import gunicorn

        return {
            "postgresql": self.postgres.version(),
            "redis": self.redis.version(),
            "gunicorn": gunicorn.__version__,
            "celery": celery.__version__,
        }


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """Seconds since the block began, frozen when it ends."""
    started = time.monotonic()
    ended: list[float] = []
    yield lambda: (ended[0] if ended else time.monotonic()) - started
    ended.append(time.monotonic())
