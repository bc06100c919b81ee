"""The guide "Receiving a response with standard tools", run verbatim against a live portal.

The shell blocks are read from the published text (README.md once the section is
there, else docs/receiving-a-response.md), so what is tested is what officers read. The
first block makes an age identity and prints its recipient, which the portal then
enrols and an administrator approves, as in life; the platform answers a request; the
second block downloads the sealed file with curl, checks its size and SHA-256, opens it
with Debian's `age`, verifies the portal's signature with `openssl`, and checks the
document under `files/` and the certificate of authenticity against the SHA-256 the
signed response.json lists.
"""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pypdf
import pytest

from accounts.services.keys import age_recipient_enrol
from accounts.services.vetting import age_recipient_approve
from portal import crypto
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.delivery.sealing import response_seal
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount
from tests.conftest import ROOT, service_missing
from tests.factories import make_officer, make_vetting_admin
from tests.requests_app.delivery_helpers import approved_decision, tmp_storage

pytestmark = pytest.mark.django_db(transaction=True)

HEADING = "Receiving a response with standard tools"
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "receiving-a-response.md"
TOOLS = ("bash", "age", "age-keygen", "openssl", "curl", "jq", "unzip", "sha256sum", "wc", "tail")
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def section(markdown: str, heading: str) -> str | None:
    """The text under ``heading``, to the next heading of its level or higher (not in code)."""
    lines, level, in_fence = [], 0, False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING_LINE.match(line)
        if level:
            if match and len(match.group(1)) <= level:
                break
            lines.append(line)
        elif match and match.group(2) == heading:
            level = len(match.group(1))
    return "\n".join(lines) if level else None


def published_blocks() -> list[str]:
    """The ```sh blocks of the guide; README.md and the docs file must agree if both have it."""
    found = {
        path: section(path.read_text(encoding="utf-8"), HEADING)
        for path in (README, GUIDE)
        if path.exists()
    }
    blocks = {
        path: re.findall(r"^```sh\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)
        for path, text in found.items()
        if text is not None
    }
    assert blocks, f"no section '{HEADING}' in {README.name} or {GUIDE}"
    first, *others = blocks.values()
    for other in others:
        assert other == first, "README.md and the docs file show different commands"
    assert len(first) == 2, "expected two shell blocks: make an identity, then receive"
    return first


@pytest.fixture
def shell_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        service_missing(f"needs {', '.join(missing)} on PATH (apt-get install age jq unzip curl)")


def run_shell(script: str, *, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run a block with bash in ``cwd``, stopping at its first failing command, with a
    minimal environment (nothing of the test process leaks into the commands)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LC_ALL": "C"}
    return subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_guides_commands_download_check_decrypt_and_verify_a_response(
    shell_tools, live_server, settings, tmp_path, client
):
    settings.PORTAL_AUDIENCE = live_server.url
    tmp_storage(settings, tmp_path / "storage")
    make_identity, receive = published_blocks()
    desk = tmp_path / "officer"
    desk.mkdir()

    # Given an officer who made an identity with the guide's commands and enrolled the
    # recipient it printed, approved by an administrator ...
    made = run_shell(make_identity, cwd=desk)
    assert made.returncode == 0, made.stdout + made.stderr
    assert not (desk / "identity.txt").stat().st_mode & 0o077
    printed = re.findall(r"^age1[0-9a-z]{58}$", made.stdout, flags=re.MULTILINE)
    assert len(printed) == 1, made.stdout
    officer = make_officer()
    recipient = age_recipient_enrol(officer=officer, actor=officer.user, recipient=printed[0])
    age_recipient_approve(
        recipient=recipient, actor=make_vetting_admin(), fingerprint_confirmed=True
    )
    # ... and a request of theirs that the platform answered, with a document.
    decision, officer, token = approved_decision(client, officer=officer)
    document = b"at,ip,port\n2026-02-01T10:00:00Z,198.51.100.7,40112\n"
    platform_file_store(
        account=PlatformAccount.objects.get(username="suspect_one"),
        name="connections-2026-02-01.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=document,
        at=datetime(2026, 2, 1, 10, tzinfo=UTC),
    )
    disclosure = Disclosure.objects.create(
        request=decision.request, decision=decision, created_by=decision.proposed_by
    )
    sealed = response_seal(disclosure_id=disclosure.pk)
    assert sealed is not None
    assert sealed.recipients == [printed[0]]
    reference = decision.request.reference

    # When the officer runs the guide's commands.
    ran = run_shell(receive, cwd=desk, PORTAL=live_server.url, TOKEN=token, REFERENCE=reference)

    # Then every check passed, in the tools' own words.
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    lines = ran.stdout.splitlines()
    assert f"size: {sealed.size} bytes, as listed" in lines, output
    assert "response.age: OK" in lines, output
    assert "Signature Verified Successfully" in lines, output
    assert f"The response answers {reference}." in lines, output
    listed = "files/1-username-suspect_one/connections-2026-02-01.csv"
    assert f"{listed}: OK" in lines, output
    assert "certificate.pdf: OK" in lines, output
    assert "DIFFERS" not in output
    key_id = crypto.portal_public_key_document()["key_id"]
    assert f"response signed by {key_id}; portal.pem is {key_id}" in lines, output

    # The file on the officer's desk is the sealed file, and the plaintext is the answer.
    assert (desk / "response.age").read_bytes() == sealed.file.read()
    answer = json.loads((desk / "response.json").read_bytes())
    assert answer["reference"] == reference
    assert answer["records"][0]["found"] is True
    # The document the officer unpacked is the platform's, as listed in the signed answer.
    assert (desk / listed).read_bytes() == document
    (entry,) = answer["records"][0]["files"]
    assert (entry["name"], entry["sha256"]) == (listed, hashlib.sha256(document).hexdigest())
    # The certificate the commands checked is the one the signed answer lists, and its text
    # (as a PDF reader extracts it) names the document with its SHA-256.
    certificate = (desk / "certificate.pdf").read_bytes()
    assert answer["certificate"]["sha256"] == hashlib.sha256(certificate).hexdigest()
    text = " ".join(
        " ".join(page.extract_text().split())
        for page in pypdf.PdfReader(io.BytesIO(certificate)).pages
    )
    assert f"{listed} ({len(document)} bytes) SHA-256 {entry['sha256']}" in text
    assert reference in text
    # One download, recorded.
    assert SealedResponse.objects.get(pk=sealed.pk).download_count == 1
    assert AuditEvent.objects.filter(action="response.downloaded").count() == 1
