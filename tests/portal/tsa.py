"""A throwaway RFC 3161 time-stamping authority: ``openssl ts -reply`` behind a tiny HTTP
server on 127.0.0.1, with its own CA made by openssl in a temporary folder.

The answers embed the TSA's certificate only (no ``certs =`` line): with the CA too,
openssl writes the SignedData certificates as a SET OF not in DER order, which
rfc3161-client's strict parser refuses. A real authority whose answers do that would be
refused the same way (docs/audit-log.md says so).
"""

import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

EXTENSIONS = """
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _openssl(*args: str, cwd: Path) -> bytes:
    return subprocess.run(
        ["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60
    ).stdout


def make_authority(folder: Path, name: str = "Test TSA") -> Path:
    """Make a CA and a TSA certificate under it; return the CA's PEM file."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", f"/CN={name} CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name}", cwd=folder
    )
    (folder / "ext.cnf").write_text(EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.crt", "-days", "2", "-extfile", "ext.cnf",
        cwd=folder,
    )  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))
    return folder / "ca.crt"


def openssl_reply(folder: Path, query: bytes) -> bytes:
    """``openssl ts -reply`` to a DER TimeStampReq."""
    (folder / "query.tsq").write_bytes(query)
    _openssl(
        "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "query.tsq", "-out", "reply.tsr",
        cwd=folder,
    )  # fmt: skip
    return (folder / "reply.tsr").read_bytes()


@dataclass
class Recorder:
    """What a local HTTP server received, and how it answers."""

    bodies: list[bytes] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    status: int = 200
    answer: object = b""  # bytes, or a function of the body returning bytes


@contextmanager
def http_server(recorder: Recorder) -> Iterator[str]:
    """Serve POSTs on 127.0.0.1 (a free port) until the block ends; yield the URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recorder.bodies.append(body)
            recorder.content_types.append(self.headers.get("Content-Type", ""))
            answer = recorder.answer(body) if callable(recorder.answer) else recorder.answer
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
