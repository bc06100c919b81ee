"""docs/audit-log.md's outside check, run line for line: curl, jq, openssl pkeyutl and
docs/verify_consistency.py against a running portal's signed tree heads; and the same
lines against a forged head and a rewritten log, where they must fail."""

import http.server
import json
import re
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from portal.audit import audit_append
from portal.models import AuditTreeHead
from portal.sequencer import audit_sequence
from portal.tree_heads import head_document

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "audit-log.md"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.needs_commands("bash", "curl", "jq", "openssl", "base64", "python3"),
]


def documented_steps() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(
        r"<!-- verify-steps: begin -->\n```sh\n(.*?)```\n<!-- verify-steps: end -->", text, re.S
    )
    assert block is not None, "docs/audit-log.md has lost its verify-steps block"
    return block.group(1)


def run_steps(folder: Path, portal: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "docs" / "verify_consistency.py", folder)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", documented_steps()],
        cwd=folder,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PORTAL": portal},
        capture_output=True,
        text=True,
        timeout=120,
    )


def append(count: int) -> None:
    for n in range(count):
        audit_append(action="request.noted", target_type="test", target_id=str(n))


def newest_head() -> dict[str, Any]:
    head = AuditTreeHead.objects.order_by("-tree_size").first()
    assert head is not None
    return head_document(head)


@pytest.fixture
def kept_head(tmp_path: Path) -> dict[str, Any]:
    """Five events signed, the head kept by the outsider, then six more signed."""
    append(5)
    audit_sequence(publish=False)
    old = newest_head()
    (tmp_path / "old-head.json").write_text(json.dumps(old))
    append(6)
    audit_sequence(publish=False)
    return old


def test_the_documented_steps_verify_the_portals_heads(
    live_server: Any, tmp_path: Path, kept_head: dict[str, Any]
) -> None:
    done = run_steps(tmp_path, live_server.url)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature Verified Successfully" in done.stdout
    assert "consistent: the tree of 11 events extends the tree of 5" in done.stdout


def test_the_documented_steps_fail_for_a_log_rewritten_since_the_kept_head(
    live_server: Any, tmp_path: Path, kept_head: dict[str, Any]
) -> None:
    # the kept head says one thing; the portal's log now says another about those events
    forged_memory = {**kept_head, "root_hash": "ab" * 32}
    (tmp_path / "old-head.json").write_text(json.dumps(forged_memory))

    done = run_steps(tmp_path, live_server.url)

    assert done.returncode == 1
    assert "NOT consistent" in done.stdout


@contextmanager
def impostor(real: str, forged_head: dict[str, Any]) -> Iterator[str]:
    """A server that answers like the portal but hands out a forged tree head."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/api/v1/audit/tree-heads/latest":
                body = json.dumps(forged_head).encode()
            else:
                with urllib.request.urlopen(real + self.path, timeout=30) as answer:  # noqa: S310
                    body = answer.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    "forgery", [{"root_hash": "cd" * 32}, {"tree_size": 12}, {"signature": "A" * 86 + "=="}]
)
def test_the_documented_steps_refuse_a_forged_head(
    live_server: Any, tmp_path: Path, kept_head: dict[str, Any], forgery: dict[str, Any]
) -> None:
    forged = {**newest_head(), **forgery}
    with impostor(live_server.url, forged) as url:
        done = run_steps(tmp_path, url)

    assert done.returncode != 0
    assert "Signature Verified Successfully" not in done.stdout
    assert "Signature Verification Failure" in done.stdout + done.stderr
