"""The README's "Submitting from a case system" commands, run verbatim against a live portal.

The shell blocks are read from the published text, not copied here, so the documentation
is what is tested: if a command in it stops working, this test fails. The first block
makes a key pair; the portal then enrols the public key it printed and an administrator
approves it, as in life; the second block signs, submits and checks the receipt.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import rfc8785

from accounts.services.keys import signing_key_enrol
from accounts.services.vetting import signing_key_approve
from portal import crypto
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest
from tests.conftest import ROOT, service_missing
from tests.factories import make_api_token, make_officer, make_vetting_admin
from tests.requests_app.signing import pdf_bytes

pytestmark = pytest.mark.django_db(transaction=True)

HEADING = "Submitting from a case system"
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "submitting-from-a-case-system.md"
TOOLS = ("bash", "openssl", "jq", "curl", "sha256sum", "base64", "date", "tail", "cut", "tr", "wc")
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def section(markdown: str, heading: str) -> str | None:
    """Return the section under ``heading`` (to the next heading of its level or higher).

    Lines inside fenced code blocks are never headings: shell comments start with ``#``.
    """
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


def shell_blocks(markdown: str) -> list[str]:
    """The contents of the ```sh fenced blocks, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


def published_blocks() -> list[str]:
    """The guide's shell blocks: README.md's once the section is there, else the docs file.

    While both hold the section, their commands must be the same.
    """
    sources = [p for p in (README, GUIDE) if p.exists()]
    found = {p: section(p.read_text(encoding="utf-8"), HEADING) for p in sources}
    blocks = {p: shell_blocks(text) for p, text in found.items() if text is not None}
    assert blocks, f"no section '{HEADING}' in {README.name} or {GUIDE}"
    first, *others = blocks.values()
    for other in others:
        assert other == first, "README.md and the docs file show different commands"
    assert len(first) == 2, "expected two shell blocks: make a key, then submit"
    return first


@pytest.fixture
def shell_tools() -> None:
    """Require the command-line tools the guide uses (OpenSSL 3 for ``pkeyutl -rawin``)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        service_missing(f"needs {', '.join(missing)} on PATH (apt-get install jq openssl curl)")
    usage = subprocess.run(
        ["openssl", "pkeyutl", "-help"], capture_output=True, text=True, check=False
    )
    if "-rawin" not in usage.stdout + usage.stderr:
        service_missing("needs OpenSSL 3.0 or later (openssl pkeyutl -rawin)")


def run_shell(script: str, *, cwd: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run a block with bash in ``cwd``, stopping at its first failing command.

    The environment is minimal on purpose: no proxy settings reach curl, nothing of the
    test process leaks into the commands.
    """
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


def printed_public_key(output: str) -> str:
    match = re.search(r"-----BEGIN PUBLIC KEY-----\n.*?-----END PUBLIC KEY-----\n", output, re.S)
    assert match, output
    return match.group(0)


def test_the_readme_commands_submit_a_request_whose_receipt_openssl_verifies(
    shell_tools, live_server, settings, tmp_path
):
    settings.PORTAL_AUDIENCE = live_server.url
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    make_key, submit = published_blocks()
    case_system = tmp_path / "case-system"
    case_system.mkdir()
    document = pdf_bytes("Production order PF-2026-0412")
    (case_system / "order.pdf").write_bytes(document)

    # Given an officer who made a key with the guide's commands, enrolled the public key
    # it printed, and whose administrator approved it after comparing the key id.
    made = run_shell(make_key, cwd=case_system)
    assert made.returncode == 0, made.stdout + made.stderr
    assert not (case_system / "key.pem").stat().st_mode & 0o077
    printed_key_id = re.search(r"^key id: (ed25519:[0-9a-f]{64})$", made.stdout, re.M)
    assert printed_key_id, made.stdout
    officer = make_officer()
    key = signing_key_enrol(
        officer=officer, actor=officer.user, public_key_pem=printed_public_key(made.stdout)
    )
    assert key.key_id == printed_key_id.group(1)
    signing_key_approve(key=key, actor=make_vetting_admin(), fingerprint_confirmed=True)
    token = make_api_token(officer=officer)[1]

    # When the case system runs the submission commands.
    ran = run_shell(submit, cwd=case_system, PORTAL=live_server.url, TOKEN=token)

    # Then the portal accepted the request, and openssl verified the receipt.
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    assert "HTTP 201" in ran.stdout.splitlines(), output
    assert "Signature Verified Successfully" in ran.stdout.splitlines(), output
    assert "The receipt is for exactly the bytes you signed." in ran.stdout, output
    portal_key_id = crypto.portal_public_key_document()["key_id"]
    assert f"receipt signed by {portal_key_id}; portal-key.pem is {portal_key_id}" in ran.stdout

    # jq's bytes are the RFC 8785 bytes of this payload, and they are what the portal kept.
    signed = (case_system / "payload.jcs").read_bytes()
    assert signed == rfc8785.dumps(json.loads((case_system / "payload.json").read_bytes()))
    answer = json.loads((case_system / "answer.json").read_bytes())
    request = LegalRequest.objects.get(reference=answer["reference"])
    assert request.officer == officer
    assert request.key_id == key.key_id
    assert request.payload_sha256 == hashlib.sha256(signed).hexdigest()
    assert request.attachments.get().sha256 == hashlib.sha256(document).hexdigest()
    assert IntakeRejection.objects.count() == 0


def test_the_section_finder_ignores_shell_comments_and_stops_at_the_next_heading():
    markdown = "\n".join(
        [
            "## Submitting from a case system",
            "```sh",
            "# a comment, not a heading",
            "echo one",
            "```",
            "### A subsection",
            "```sh",
            "echo two",
            "```",
            "## The next section",
            "```sh",
            "echo three",
            "```",
        ]
    )
    found = section(markdown, HEADING)
    assert found is not None
    assert shell_blocks(found) == ["# a comment, not a heading\necho one\n", "echo two\n"]
