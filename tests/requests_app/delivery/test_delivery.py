"""Sealed delivery (PROTOCOL §6): the response opens with Debian's `age`, verifies with openssl."""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyrage
import pytest
from django.utils import timezone

from accounts.models import AgeRecipient, KeyStatus
from portal import crypto
from portal.models import AuditEvent
from requests_app.delivery.document import archive_layout, safe_file_name
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.delivery.sealing import (
    FileMismatch,
    response_seal,
    seal_to_file,
    verified_chunks,
)
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformFile, PlatformIpEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.review.models import Decision
from requests_app.sources.base import Target, TargetFile, TargetRecords
from tests.conftest import service_missing
from tests.factories import make_api_token, make_officer, make_user
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]


def approved_disclosure(client, *, with_recipient: bool = True):
    """A request submitted through the API, approved by two reviewers, handed to delivery."""
    officer = make_officer()
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    account = PlatformAccount.objects.create(
        user_id="42",
        username="suspect_one",
        phone_number="+4915100000042",
        registered_at=timezone.now() - timedelta(days=900),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind="login",
        ip="198.51.100.7",
        at=timezone.now().replace(year=2026, month=2, day=1),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind="login",
        ip="198.51.100.99",
        at=timezone.now().replace(year=2025, month=6, day=1),
    )
    sub = submission()
    reference = post_envelope(client, sub.sign(signer), sub.files, token).json()["reference"]
    request = LegalRequest.objects.get(reference=reference)
    first, second = make_user(role="reviewer"), make_user(role="reviewer")
    decision = Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.APPROVE_FULL,
        state=Decision.State.CONFIRMED,
        proposed_by=first,
        confirmed_by=second,
        confirmed_at=timezone.now(),
        approved_target_ids=list(request.targets.values_list("pk", flat=True)),
        approved_categories=list(request.data_categories),
        approved_period_from=date(2026, 1, 1),
        approved_period_to=date(2026, 3, 31),
        message_to_authority="Records attached.",
    )
    LegalRequest.objects.filter(pk=request.pk).update(status=LegalRequest.Status.APPROVED)
    disclosure = Disclosure.objects.create(request=request, decision=decision, created_by=first)
    identity = pyrage.x25519.Identity.generate()
    if with_recipient:
        AgeRecipient.objects.create(
            officer=officer, recipient=str(identity.to_public()), status=KeyStatus.ACTIVE
        )
    return disclosure, identity


def test_a_sealed_response_opens_with_age_and_its_signature_verifies_with_openssl(client, tmp_path):
    if not (shutil.which("age") and shutil.which("openssl")):
        service_missing("needs Debian's age and openssl binaries (apt-get install age openssl)")
    disclosure, identity = approved_disclosure(client)

    sealed = response_seal(disclosure_id=disclosure.pk)

    assert sealed is not None
    (tmp_path / "identity.txt").write_text(str(identity) + "\n")
    (tmp_path / "response.age").write_bytes(sealed.file.read())
    subprocess.run(  # noqa: S603
        ["age", "-d", "-i", "identity.txt", "-o", "r.zip", "response.age"],  # noqa: S607
        cwd=tmp_path,
        check=True,
    )
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert sorted(archive.namelist()) == [
            "certificate.pdf",
            "response.json",
            "response.json.sig",
        ]
        archive.extractall(tmp_path)
    (tmp_path / "portal.pem").write_text(crypto.portal_public_key_document()["public_key_pem"])
    verified = subprocess.run(  # noqa: S603
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "portal.pem",
            "-rawin",  # noqa: S607
            "-in",
            "response.json",
            "-sigfile",
            "response.json.sig",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Signature Verified Successfully" in verified.stdout, verified.stdout + verified.stderr

    document = json.loads((tmp_path / "response.json").read_text())
    assert document["reference"] == disclosure.request.reference
    (target,) = document["records"]
    assert target["found"] is True
    # only the approved period: the 2025 login is outside it
    assert [e["ip"] for e in target["records"]["ip_addresses"]] == ["198.51.100.7"]
    assert target["records"]["phone_number"] == {"phone_number": "+4915100000042"}


def test_sealing_twice_stores_one_response_and_moves_the_request_to_disclosed(client, storage):
    disclosure, identity = approved_disclosure(client)
    first = response_seal(disclosure_id=disclosure.pk)
    second = response_seal(disclosure_id=disclosure.pk)
    assert first is not None
    assert second is not None
    assert first.pk == second.pk
    assert SealedResponse.objects.count() == 1
    assert len(list((storage / "sealed").iterdir())) == 1
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.SEALED
    assert LegalRequest.objects.get(pk=disclosure.request_id).status == "disclosed"
    assert AuditEvent.objects.filter(action="response.sealed").count() == 1
    plaintext = pyrage.decrypt(first.file.read(), [identity])
    assert "response.json" in zipfile.ZipFile(io.BytesIO(plaintext)).namelist()


def test_no_plaintext_reaches_the_storage(client, storage):
    disclosure, _identity = approved_disclosure(client)
    response_seal(disclosure_id=disclosure.pk)
    for path in Path(storage).rglob("*"):
        if path.is_file() and path.parent.name == "sealed":
            data = path.read_bytes()
            assert data.startswith(b"age-encryption.org/v1")
            assert b"+4915100000042" not in data
            assert b"suspect_one" not in data


def test_without_an_active_recipient_nothing_is_sealed_and_the_failure_is_recorded(client):
    disclosure, _identity = approved_disclosure(client, with_recipient=False)
    assert response_seal(disclosure_id=disclosure.pk) is None
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.FAILED
    assert SealedResponse.objects.count() == 0
    assert AuditEvent.objects.filter(action="disclosure.seal_failed").exists()


def test_a_revoked_recipient_is_not_sealed_to(client):
    disclosure, identity = approved_disclosure(client)
    AgeRecipient.objects.update(status=KeyStatus.REVOKED)
    other = pyrage.x25519.Identity.generate()
    AgeRecipient.objects.create(
        officer=disclosure.request.officer,
        recipient=str(other.to_public()),
        status=KeyStatus.ACTIVE,
    )
    sealed = response_seal(disclosure_id=disclosure.pk)
    assert sealed.recipients == [str(other.to_public())]
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed.file.read(), [identity])


def test_a_large_member_streams_through_the_seal_and_opens_with_age_and_unzip(tmp_path):
    if not (shutil.which("age") and shutil.which("unzip")):
        service_missing("needs Debian's age and unzip binaries (apt-get install age unzip)")
    identity = pyrage.x25519.Identity.generate()
    produced = hashlib.sha256()

    def chunks():  # 8 MiB, one MiB at a time: never held whole
        for number in range(8):
            chunk = bytes([number]) * (1024 * 1024)
            produced.update(chunk)
            yield chunk

    with (tmp_path / "response.age").open("wb") as out:
        written = seal_to_file(
            [("response.json", b'{"reference": "LR-1"}'), ("files/video.bin", chunks())],
            [str(identity.to_public())],
            out,
        )

    data = (tmp_path / "response.age").read_bytes()
    assert (written.size, written.digest.hexdigest()) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    (tmp_path / "identity.txt").write_text(str(identity) + "\n")
    subprocess.run(
        ["age", "-d", "-i", "identity.txt", "-o", "r.zip", "response.age"], cwd=tmp_path, check=True
    )
    tested = subprocess.run(
        ["unzip", "-t", "r.zip"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        assert archive.getinfo("files/video.bin").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("response.json").compress_type == zipfile.ZIP_DEFLATED
        with archive.open("files/video.bin") as member:
            assert hashlib.file_digest(member, "sha256").hexdigest() == produced.hexdigest()


def test_a_member_that_fails_while_streaming_fails_the_seal_with_its_reason():
    def chunks():
        yield b"x" * 1024
        raise OSError("the platform's file store went away")

    with pytest.raises(crypto.SealError, match="building the archive failed: the platform"):
        seal_to_file(
            [("files/a.bin", chunks())],
            [str(pyrage.x25519.Identity.generate().to_public())],
            io.BytesIO(),
        )


class FullDisk(io.RawIOBase):
    """A sink that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(28, "No space left on device")
        self.room -= len(data)
        return len(data)


@pytest.mark.parametrize("room_mib", [3, 24], ids=["half-way", "near-the-end"])
def test_a_sink_that_fails_fails_the_seal_and_leaves_no_thread_behind(room_mib):
    before = threading.active_count()

    def chunks():  # far more than the hand-offs between the seal's threads can hold
        for number in range(24):
            yield bytes([number]) * (1024 * 1024)

    with pytest.raises((crypto.SealError, OSError), match="No space left on device"):
        seal_to_file(
            [("files/big.bin", chunks())],
            [str(pyrage.x25519.Identity.generate().to_public())],
            FullDisk(room_mib * 1024 * 1024),
        )
    assert threading.active_count() == before


def child_processes() -> set[int]:
    """This process's child processes, ended or not, until waited for (Linux's /proc)."""
    return {
        int(pid)
        for children in Path("/proc/self/task").glob("*/children")
        for pid in children.read_text().split()
    }


def tool_script(folder: Path, body: str) -> str:
    """An executable shell script standing in for the age tool (AGE_TOOL)."""
    path = folder / "age"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("child", ["age-tool", "pyrage"])
def test_an_age_process_that_fails_fails_the_seal_with_its_reason_and_leaves_nothing_running(
    monkeypatch, settings, tmp_path, child
):
    before, processes = threading.active_count(), child_processes()
    # age's process stops at once, as one that crashed or was killed would: the age tool
    # (its way of reporting, then the line asking for a bug report), or pyrage's child.
    if child == "age-tool":
        settings.AGE_TOOL = tool_script(
            tmp_path,
            "echo 'age: error: out of memory' >&2\n"
            "echo 'age: report unexpected or unhelpful errors at https://filippo.io/age/report'"
            " >&2\n"
            "exit 3",
        )
    else:
        settings.AGE_TOOL = ""
        monkeypatch.setattr(
            crypto, "_AGE_CHILD", "import sys; sys.stderr.write('out of memory\\n'); sys.exit(3)"
        )
    sink = io.BytesIO()

    def chunks():  # more than the pipes hold: the archive thread is left writing
        for number in range(8):
            yield bytes([number]) * (1024 * 1024)

    with pytest.raises(crypto.SealError, match="^age encryption failed: out of memory$"):
        seal_to_file(
            [("files/big.bin", chunks())],
            [str(pyrage.x25519.Identity.generate().to_public())],
            sink,
        )
    assert threading.active_count() == before
    assert child_processes() == processes
    assert sink.getvalue() == b""


@pytest.fixture(params=["age-tool", "pyrage"])
def age_child(request, settings, monkeypatch) -> list[list[str]]:
    """Seal through each child in turn: the age tool (Debian's), and pyrage (AGE_TOOL empty).

    Returns the commands the seal ran, as it runs them.
    """
    if request.param == "age-tool":
        if not shutil.which("age"):
            service_missing("needs Debian's age binary (apt-get install age)")
        settings.AGE_TOOL = shutil.which("age")
    else:
        settings.AGE_TOOL = ""
    commands: list[list[str]] = []
    command = crypto.age_encryption_command

    def recorded(recipients: list[str], tool: str) -> list[str]:
        commands.append(command(recipients, tool))
        return commands[-1]

    monkeypatch.setattr(crypto, "age_encryption_command", recorded)
    return commands


def test_a_response_sealed_through_each_age_child_opens_with_pyrage_and_with_age(
    client, tmp_path, settings, age_child
):
    disclosure, identity = approved_disclosure(client)
    video = os.urandom(3 * 1024 * 1024 + 777)  # more than a pipe's worth, with a ragged end
    store_file("video.mp4", "ip_addresses", video, datetime(2026, 2, 1, tzinfo=UTC))

    sealed = response_seal(disclosure_id=disclosure.pk)

    (command,) = age_child
    recipient = str(identity.to_public())
    if settings.AGE_TOOL:  # the age tool itself, from its standard input to its output
        assert command == [settings.AGE_TOOL, "--encrypt", "-r", recipient]
    else:
        assert command[:3] == [sys.executable, "-I", "-c"]
        assert command[-1] == recipient
    ciphertext = sealed.file.read()
    assert ciphertext.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert (sealed.size, sealed.sha256) == (len(ciphertext), hashlib.sha256(ciphertext).hexdigest())
    archive = zipfile.ZipFile(io.BytesIO(pyrage.decrypt(ciphertext, [identity])))
    assert archive.read("files/1-username-suspect_one/video.mp4") == video
    if shutil.which("age"):
        (tmp_path / "identity.txt").write_text(str(identity) + "\n")
        (tmp_path / "response.age").write_bytes(ciphertext)
        opened_by_age = subprocess.run(  # noqa: S603
            ["age", "-d", "-i", "identity.txt", "response.age"],  # noqa: S607
            cwd=tmp_path,
            capture_output=True,
            check=True,
        ).stdout
        assert opened_by_age == pyrage.decrypt(ciphertext, [identity])


def nothing_sealed(disclosure: Disclosure, storage: Path) -> None:
    assert not SealedResponse.objects.exists()
    assert not (storage / "sealed").exists() or not any((storage / "sealed").iterdir())
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.PENDING  # retried later, not lost
    assert not AuditEvent.objects.filter(action="response.sealed").exists()


def test_an_age_tool_that_fails_fails_the_seal_with_nothing_stored_and_no_process_left(
    client, storage, settings
):
    disclosure, _identity = approved_disclosure(client)
    processes = child_processes()
    settings.AGE_TOOL = shutil.which("false")  # exits 1 at once, says nothing

    with pytest.raises(crypto.SealError, match="^age encryption failed: exit status 1$"):
        response_seal(disclosure_id=disclosure.pk)

    nothing_sealed(disclosure, storage)
    assert child_processes() == processes


@pytest.mark.parametrize("kind", ["missing", "not-executable", "relative"])
def test_an_age_tool_that_cannot_be_run_is_refused_by_the_checks_and_at_seal_time(
    client, storage, settings, tmp_path, kind
):
    from portal.checks import age_tool

    disclosure, _identity = approved_disclosure(client)
    if kind == "missing":
        settings.AGE_TOOL = str(tmp_path / "no-such-age")
    elif kind == "not-executable":
        (tmp_path / "age").write_bytes(Path(shutil.which("true")).read_bytes())
        (tmp_path / "age").chmod(0o644)
        settings.AGE_TOOL = str(tmp_path / "age")
    else:
        settings.AGE_TOOL = "age"  # found on PATH or not, a path that depends on where it runs

    (error,) = age_tool(None)
    assert error.id == "portal.E009"
    assert settings.AGE_TOOL in error.msg
    if kind == "relative":
        return  # the check is the refusal: a relative name may well run here
    processes = child_processes()
    with pytest.raises(crypto.SealError, match=r"the age tool .* \(AGE_TOOL\) cannot be run"):
        response_seal(disclosure_id=disclosure.pk)
    nothing_sealed(disclosure, storage)
    assert child_processes() == processes


def test_the_checks_accept_the_age_tool_and_its_absence(settings):
    from portal.checks import age_tool

    settings.AGE_TOOL = ""
    assert age_tool(None) == []
    settings.AGE_TOOL = shutil.which("true")  # an executable file: what it is, age says at seal
    assert age_tool(None) == []


# --- Files under files/ -----------------------------------------------------------------------


def store_file(name: str, category: str, data: bytes, moment: datetime | None) -> None:
    platform_file_store(
        account=PlatformAccount.objects.get(username="suspect_one"),
        name=name,
        media_type="text/csv",
        category=category,
        data=data,
        at=moment,
    )


def plaintext(sealed: SealedResponse, identity) -> bytes:
    with sealed.file.open("rb") as ciphertext:
        return pyrage.decrypt(ciphertext.read(), [identity])


def opened(sealed: SealedResponse, identity) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(plaintext(sealed, identity)))


FEBRUARY = b"at,ip\n2026-02-01T10:00:00Z,198.51.100.7\n"


def test_files_in_the_approved_scope_are_sealed_under_files_and_listed_with_their_hash(client):
    disclosure, identity = approved_disclosure(client)  # ip_addresses and phone_number, Q1 2026
    store_file(
        "connections-2026-02-01.csv", "ip_addresses", FEBRUARY, datetime(2026, 2, 1, tzinfo=UTC)
    )
    store_file(
        "CONNECTIONS-2026-02-01.csv",
        "ip_addresses",
        b"same name, other case\n",
        datetime(2026, 2, 2, tzinfo=UTC),
    )
    store_file(
        "connections-2025-06-01.csv",
        "ip_addresses",
        b"before the period",
        datetime(2025, 6, 1, tzinfo=UTC),
    )
    store_file("profile.png", "subscriber_info", b"a category not approved", None)

    sealed = response_seal(disclosure_id=disclosure.pk)

    archive = opened(sealed, identity)
    folder = "files/1-username-suspect_one"
    assert archive.namelist() == [
        "response.json",
        "response.json.sig",
        "certificate.pdf",
        f"{folder}/connections-2026-02-01.csv",
        f"{folder}/CONNECTIONS-2026-02-01-2.csv",
    ]
    (target,) = json.loads(archive.read("response.json"))["records"]
    assert target["files"] == [
        {
            "name": f"{folder}/connections-2026-02-01.csv",
            "media_type": "text/csv",
            "size": len(FEBRUARY),
            "sha256": hashlib.sha256(FEBRUARY).hexdigest(),
            "category": "ip_addresses",
            "at": "2026-02-01T00:00:00Z",
        },
        {
            "name": f"{folder}/CONNECTIONS-2026-02-01-2.csv",
            "media_type": "text/csv",
            "size": 22,
            "sha256": hashlib.sha256(b"same name, other case\n").hexdigest(),
            "category": "ip_addresses",
            "at": "2026-02-02T00:00:00Z",
        },
    ]
    # What the listing says is what the archive holds.
    for listed in target["files"]:
        data = archive.read(listed["name"])
        assert (len(data), hashlib.sha256(data).hexdigest()) == (listed["size"], listed["sha256"])
    assert (
        archive.getinfo(f"{folder}/connections-2026-02-01.csv").compress_type == zipfile.ZIP_STORED
    )


HOSTILE_NAMES = [
    "../../../../tmp/evil.sh",
    "/etc/cron.d/evil",
    "..\\..\\Windows\\System32\\evil.dll",
    "C:evil.bat",
    "..",
    ".bashrc",
    "-rf",
    "\x1b[31mevil.csv",  # a terminal escape (PostgreSQL refuses NUL in text, so not that)
    "invoice\u202egpj.exe",
]


def test_hostile_file_names_unpack_inside_the_response_folder_with_unzip(client, tmp_path):
    if not shutil.which("unzip"):
        service_missing("needs Debian's unzip binary (apt-get install unzip)")
    disclosure, identity = approved_disclosure(client)
    for number, name in enumerate(HOSTILE_NAMES):
        store_file(
            name, "ip_addresses", f"file {number}\n".encode(), datetime(2026, 2, 1, tzinfo=UTC)
        )

    sealed = response_seal(disclosure_id=disclosure.pk)

    archive = opened(sealed, identity)
    names = archive.namelist()[3:]
    assert len(names) == len(HOSTILE_NAMES)
    for name in names:
        folder, _, base = name.rpartition("/")
        assert folder == "files/1-username-suspect_one"
        assert base
        assert not base.startswith((".", "-"))
        assert not any(c in base for c in "\\:\x1b\u202e")
    # Unpacked as an officer would: everything lands inside the folder, nothing beside it.
    officer = tmp_path / "officer"
    desk = officer / "desk" / "case"
    desk.mkdir(parents=True)
    (desk / "r.zip").write_bytes(plaintext(sealed, identity))
    subprocess.run(["unzip", "-q", "r.zip"], cwd=desk, check=True)  # noqa: S607
    unpacked = sorted(str(p.relative_to(officer)) for p in officer.rglob("*") if p.is_file())
    # with r.zip, response.json(.sig) and certificate.pdf
    assert len(unpacked) == 4 + len(HOSTILE_NAMES)
    assert all(name.startswith("desk/case/") for name in unpacked), unpacked


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("profile.png", "profile.png"),
        ("../../../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\x\\photo.jpg", "photo.jpg"),
        ("C:photo.jpg", "C_photo.jpg"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        ("/", "file"),
        (".bashrc", "bashrc"),
        ("-rf", "rf"),
        ("name with spaces & $(cmd).txt", "name_with_spaces_cmd_.txt"),
        ("evil\x00.csv", "evil_.csv"),
        ("line\nbreak.csv", "line_break.csv"),
        ("invoice\u202egpj.exe", "invoice_gpj.exe"),
        ("trailing.dots...", "trailing.dots"),
        ("CON", "file_CON"),
        ("nul.txt", "file_nul.txt"),
        ("Überweisung März.pdf", "Überweisung_März.pdf"),
        ("фото.jpg", "фото.jpg"),
        ("a" * 300 + ".jpeg", "a" * 95 + ".jpeg"),
    ],
)
def test_a_file_name_is_made_one_safe_path_component(name, safe):
    assert safe_file_name(name) == safe


def test_each_target_has_its_own_folder_and_names_never_repeat_even_ignoring_case():
    def listed(name: str) -> TargetFile:
        return TargetFile(name, "text/plain", 1, "0" * 64, "ip_addresses", None, lambda: iter([]))

    layout = archive_layout(
        [
            TargetRecords(
                Target("username", "a/../b"),
                True,
                {},
                [listed("x.csv"), listed("X.csv"), listed("../x.csv")],
            ),
            TargetRecords(Target("phone", "+49 151"), True, {}, [listed("x.csv")]),
        ]
    )

    assert [[f.path for f in files] for files in layout] == [
        [
            "files/1-username-a_.._b/x.csv",
            "files/1-username-a_.._b/X-2.csv",
            "files/1-username-a_.._b/x-3.csv",
        ],
        ["files/2-phone-+49_151/x.csv"],
    ]


def test_a_file_whose_bytes_differ_from_its_listing_fails_the_seal_and_nothing_is_stored(
    client, storage
):
    disclosure, _identity = approved_disclosure(client)
    store_file("connections.csv", "ip_addresses", FEBRUARY, datetime(2026, 2, 1, tzinfo=UTC))
    stored = PlatformFile.objects.get()
    # The platform's copy changes after it was listed: same length, other bytes.
    Path(stored.content.path).write_bytes(FEBRUARY.replace(b"198.51.100.7", b"198.51.100.8"))

    with pytest.raises(crypto.SealError, match="does not have the SHA-256 listed"):
        response_seal(disclosure_id=disclosure.pk)

    assert not SealedResponse.objects.exists()
    assert not (storage / "sealed").exists() or not any((storage / "sealed").iterdir())
    disclosure.refresh_from_db()
    assert disclosure.state == Disclosure.State.PENDING  # retried later, not lost
    assert not AuditEvent.objects.filter(action="response.sealed").exists()


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        ([b"0123456789", b"extra"], "longer than the 10 bytes listed"),
        ([b"01234"], "has 5 bytes, not the 10 listed"),
        ([b"0123456789"[::-1]], "does not have the SHA-256 listed"),
    ],
    ids=["longer", "shorter", "other-bytes"],
)
def test_a_file_is_checked_against_its_listing_as_it_streams(sent, reason):
    listed = TargetFile(
        "f.bin",
        "application/octet-stream",
        10,
        hashlib.sha256(b"0123456789").hexdigest(),
        "ip_addresses",
        None,
        lambda: iter(sent),
    )
    with pytest.raises(FileMismatch, match=reason):
        b"".join(verified_chunks("files/1-x/f.bin", listed))


def test_a_multi_chunk_response_opens_with_stock_age_and_its_recorded_hashes_are_hashlibs(
    client, tmp_path
):
    if not (shutil.which("age") and shutil.which("unzip")):
        service_missing("needs Debian's age and unzip binaries (apt-get install age unzip)")
    disclosure, identity = approved_disclosure(client)
    # Several of the seal's pieces (1 MiB) and many of age's chunks (64 KiB), with a ragged end.
    video = os.urandom(5 * 1024 * 1024 + 12345)
    store_file("video.mp4", "ip_addresses", video, datetime(2026, 2, 1, tzinfo=UTC))

    sealed = response_seal(disclosure_id=disclosure.pk)

    ciphertext = sealed.file.read()
    # the recorded ciphertext hash and size are hashlib's over the stored file
    assert (sealed.size, sealed.sha256) == (len(ciphertext), hashlib.sha256(ciphertext).hexdigest())
    event = AuditEvent.objects.get(action="response.sealed")
    assert (event.data["sha256"], event.data["size"]) == (sealed.sha256, sealed.size)
    (tmp_path / "identity.txt").write_text(str(identity) + "\n")
    (tmp_path / "response.age").write_bytes(ciphertext)
    subprocess.run(  # noqa: S603
        ["age", "-d", "-i", "identity.txt", "-o", "r.zip", "response.age"],  # noqa: S607
        cwd=tmp_path,
        check=True,
    )
    tested = subprocess.run(
        ["unzip", "-t", "r.zip"],  # noqa: S607
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    with zipfile.ZipFile(tmp_path / "r.zip") as archive:
        (target,) = json.loads(archive.read("response.json"))["records"]
        (listed,) = target["files"]
        # the same bytes came out, and the listed plaintext hash is hashlib's over them
        assert archive.read(listed["name"]) == video
        assert (listed["size"], listed["sha256"]) == (
            len(video),
            hashlib.sha256(video).hexdigest(),
        )
