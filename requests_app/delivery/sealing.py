"""Seal a disclosure: build the ZIP, stream it through age, store only the ciphertext.

The plaintext exists only in memory, a piece at a time: a thread writes the archive into
an OS pipe, age encrypts it in a process of its own into a second pipe (the age tool,
AGE_TOOL, or pyrage where that is empty: ``crypto.AgeEncryption``), and the calling
thread hashes the ciphertext and writes it straight into the storage's folder, in a file
that gets its name only once it is complete (``seal_to_file``,
``lifecycle.storage.storage_write``). The plaintext is never written to disk or to the
database, and memory stays bounded however large the members. Running twice for one
disclosure stores one sealed response (a unique constraint); a run that dies half-way
leaves no row (and no file, until its ciphertext is complete), and the retry starts over.
"""

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import BinaryIO

from django import db
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.selectors import recipients_for_officer
from portal import crypto
from portal.audit import audit_append
from requests_app.delivery.certificate import CERTIFICATE_NAME, Certificate, certificate_render
from requests_app.delivery.document import (
    ArchiveFile,
    archive_layout,
    response_document,
    response_files,
)
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.lifecycle.models import LegalRequest
from requests_app.lifecycle.scope import decision_records
from requests_app.lifecycle.states import next_state
from requests_app.lifecycle.storage import storage_write
from requests_app.sources.base import TargetFile

logger = logging.getLogger(__name__)
CHUNK = 1024 * 1024

# The ZIP goes to age, and the ciphertext comes back, through OS pipes grown to this size
# (Linux lets a pipe grow to 1 MiB without privilege; elsewhere it keeps its 64 KiB), and
# the ciphertext is hashed and written in pieces of at most this size: what is in flight
# stays bounded, and the plaintext is never written to disk.
PIPE_CHUNK = 1024 * 1024


def _pipe() -> tuple[int, int]:
    """An OS pipe (read end, write end), grown to ``PIPE_CHUNK`` where the system allows."""
    read_end, write_end = os.pipe()
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is not None:
        with contextlib.suppress(OSError):  # over the system's limit: the default size
            fcntl.fcntl(write_end, set_size, PIPE_CHUNK)
    return read_end, write_end


class HashingWriter:
    """Counts and hashes the ciphertext as it passes into ``sink``."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: memoryview) -> int:
        self.digest.update(data)
        left = data
        while left:  # a raw file may take a part of it
            left = left[self.sink.write(left) :]
        self.size += len(data)
        return len(data)


def recipients_for(disclosure: Disclosure) -> list[str]:
    """Whom a response is sealed to: the submitting officer's and the agency's recipients."""
    request = disclosure.request
    return recipients_for_officer(officer_id=request.officer_id, agency_id=request.agency_id)


# A member of the archive: its bytes, or (for large files) a binary file or an iterable of
# byte chunks, read as the archive is sealed and never held whole.
Member = bytes | BinaryIO | Iterable[bytes]


def _chunks(data: Member) -> Iterator[bytes]:
    if isinstance(data, bytes):
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
    elif hasattr(data, "read"):
        while chunk := data.read(CHUNK):
            yield chunk
    else:
        yield from data


class FileMismatch(Exception):
    """A file's bytes are not what its source listed (size or SHA-256): nothing is sealed."""


def verified_chunks(path: str, file: TargetFile) -> Iterator[bytes]:
    """The bytes of ``file``, checked against its listed size and SHA-256 as they pass.

    response.json lists the size and hash before the bytes follow in the archive, so a
    file that turns out different (longer, shorter, other bytes) fails the whole seal:
    an officer is never given a listing that their own check would contradict. A file
    longer than listed is cut off at once, not read to its end.
    """
    digest = hashlib.sha256()
    size = 0
    chunks = file.opener()
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > file.size:
                raise FileMismatch(f"{path} is longer than the {file.size} bytes listed")
            digest.update(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    if size != file.size:
        raise FileMismatch(f"{path} has {size} bytes, not the {file.size} listed")
    if digest.hexdigest() != file.sha256:
        raise FileMismatch(f"{path} does not have the SHA-256 listed")


def archive_members(
    body: bytes,
    signature: bytes,
    layout: list[list[ArchiveFile]],
    certificate: Certificate | None = None,
) -> Iterator[tuple[str, Member]]:
    """The members of a response's ZIP: response.json, its signature, the certificate of
    authenticity, then every file."""
    yield "response.json", body
    yield "response.json.sig", signature
    if certificate is not None:
        yield CERTIFICATE_NAME, certificate.data
    for files in layout:
        for placed in files:
            yield placed.path, verified_chunks(placed.path, placed.file)


class _Archive(threading.Thread):
    """Writes the ZIP of ``files`` into the write end of a pipe, on a thread of its own.

    Members given as bytes are deflated (``response.json``); members given as a stream are
    stored as they are: they are documents and media that are compressed already, and
    deflating them would cost far more than encrypting them. The pipe's write end is
    closed at the end, or at the first failure, which is kept in ``failure``: age then
    reads the end of its input, and ``seal_to_file`` refuses what it encrypted (never
    stored). A pipe closed on it (age stopped) ends it with a ``BrokenPipeError``.
    """

    def __init__(self, files: Iterable[tuple[str, Member]], write_end: int) -> None:
        super().__init__(name="seal-archive", daemon=True)
        self.files = files
        self.write_end = write_end
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                open(self.write_end, "wb", buffering=PIPE_CHUNK) as pipe,
                zipfile.ZipFile(pipe, "w") as archive,
            ):
                for name, data in self.files:
                    stored = not isinstance(data, bytes)
                    info = zipfile.ZipInfo(name)
                    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                    # force_zip64: a streamed member's size is unknown until its end.
                    with archive.open(info, "w", force_zip64=stored) as member:
                        for chunk in _chunks(data):
                            member.write(chunk)
        except BaseException as exc:
            self.failure = exc
        finally:
            # A data source that reads the database while its file streams did so on this
            # thread's own connection: close it with the thread.
            db.connections.close_all()


def seal_to_file(
    files: Iterable[tuple[str, Member]], recipients: list[str], out: BinaryIO
) -> HashingWriter:
    """Stream the ZIP of ``files`` through age into ``out``; return its size and hash.

    Three at work, each on large pieces: a thread builds the archive (deflate, CRC-32, the
    files' SHA-256 checks) into a pipe; age encrypts it in a process of its own
    (``crypto.AgeEncryption``: the age tool, or pyrage) into a second pipe; this thread
    hashes the ciphertext and writes it into ``out``. hashlib, zlib and the pipes release
    the GIL, so the two threads and age use the cores side by side. A failure anywhere
    ends all three.
    """
    plain_read, plain_write = _pipe()
    try:
        cipher_read, cipher_write = _pipe()
    except BaseException:
        os.close(plain_read)
        os.close(plain_write)
        raise
    try:
        age = crypto.AgeEncryption(recipients, source=plain_read, sink=cipher_write)
    except BaseException:
        os.close(plain_write)
        os.close(cipher_read)
        raise
    ciphertext = open(cipher_read, "rb", buffering=0)
    archive = _Archive(files, plain_write)
    hashing = HashingWriter(out)
    try:
        with ciphertext:
            archive.start()
            piece = memoryview(bytearray(PIPE_CHUNK))
            while size := ciphertext.readinto(piece):
                hashing.write(piece[:size])
    except BaseException:
        # age ends, its end of the plaintext's pipe with it: the archive thread's next
        # write is refused, and it ends too.
        age.stop()
        if archive.ident is not None:
            archive.join()
        else:  # it never started: its end of the pipe is still open
            os.close(plain_write)
        _raise_archive_failure(archive, age_failed=True)
        raise
    try:
        age.finish()
    except BaseException:
        archive.join()
        _raise_archive_failure(archive, age_failed=True)
        raise
    archive.join()
    _raise_archive_failure(archive, age_failed=False)
    out.flush()
    return hashing


def _raise_archive_failure(archive: _Archive, *, age_failed: bool) -> None:
    """The archive's own failure, if any, is the seal's reason.

    A pipe closed on it is what an age that failed or was stopped leaves: then age's
    reason stands. After an age that ended well it is a failure all the same: the archive
    was not read to its end, so it was not sealed.
    """
    failure = archive.failure
    if failure is None or (age_failed and isinstance(failure, BrokenPipeError)):
        return
    raise crypto.SealError(f"building the archive failed: {failure}") from failure


def _mark_failed(disclosure: Disclosure, reason: str) -> None:
    with transaction.atomic():
        locked = Disclosure.objects.select_for_update().get(pk=disclosure.pk)
        if locked.state != Disclosure.State.PENDING:
            return
        locked.state = Disclosure.State.FAILED
        locked.save(update_fields=["state"])
        audit_append(
            action="disclosure.seal_failed",
            target=locked.request,
            data={"disclosure_id": locked.pk, "reason": reason},
        )


def _notify_officer(request: LegalRequest) -> None:
    address = request.officer.user.email

    def send() -> None:
        EmailMessage(
            subject="A response is ready",
            body="A response is ready on the authority portal. Log in to download it.\n",
            to=[address],
        ).send()

    transaction.on_commit(send, robust=True)


def response_seal(*, disclosure_id: int) -> SealedResponse | None:
    """Seal one disclosure; safe to run twice. Returns the sealed response, or None if refused."""
    disclosure = Disclosure.objects.select_related(
        "decision__confirmed_by",
        "decision__proposed_by",
        "request__officer__user",
        "request__agency",
    ).get(pk=disclosure_id)
    existing = SealedResponse.objects.filter(disclosure=disclosure).first()
    if existing is not None or disclosure.state != Disclosure.State.PENDING:
        return existing
    recipients = recipients_for(disclosure)
    if not recipients:
        _mark_failed(disclosure, "The officer and the agency have no active age recipient.")
        return None

    now = timezone.now()
    records = decision_records(disclosure.decision)
    layout = archive_layout(records)
    certificate = certificate_render(disclosure, records, layout, now)
    body, signature = response_files(
        response_document(disclosure, records, now, layout, certificate=certificate.listing())
    )
    del records

    name = f"sealed/{disclosure.request.reference}-{uuid.uuid4().hex}.age"
    members = archive_members(body, signature, layout, certificate)
    del body, layout  # the members hold what they need, as long as they need it
    written: list[HashingWriter] = []
    # The ciphertext goes straight into the storage's folder, named only once complete.
    stored = storage_write(
        name, lambda ciphertext: written.append(seal_to_file(members, recipients, ciphertext))
    )
    (hashed,) = written

    try:
        with transaction.atomic():
            locked = LegalRequest.objects.select_for_update().get(pk=disclosure.request_id)
            sealed = SealedResponse.objects.create(
                disclosure=disclosure,
                request=locked,
                file=stored,
                size=hashed.size,
                sha256=hashed.digest.hexdigest(),
                recipients=recipients,
                expires_at=now + timedelta(days=settings.SEALED_RESPONSE_RETENTION_DAYS),
            )
            Disclosure.objects.filter(pk=disclosure.pk).update(state=Disclosure.State.SEALED)
            before = locked.status
            if before == LegalRequest.Status.APPROVED:
                locked.status = next_state(before, "deliver")
                locked.save(update_fields=["status"])
            audit_append(
                action="response.sealed",
                target=locked,
                data={
                    "reference": locked.reference,
                    "sealed_response_id": sealed.pk,
                    "disclosure_id": disclosure.pk,
                    "sha256": sealed.sha256,
                    "size": sealed.size,
                    "recipients": recipients,
                    "before": before,
                    "after": locked.status,
                },
            )
            _notify_officer(locked)
    except IntegrityError:
        # Another run sealed this disclosure first: keep theirs, drop ours.
        default_storage.delete(stored)
        return SealedResponse.objects.filter(disclosure=disclosure).first()
    return sealed


def sealed_response_purge(*, sealed: SealedResponse) -> None:
    """Delete an expired sealed file (the row stays, for the record)."""
    with transaction.atomic():
        locked = SealedResponse.objects.select_for_update().get(pk=sealed.pk)
        if locked.purged_at is not None:
            return
        if locked.file.name:
            default_storage.delete(locked.file.name)
        locked.purged_at = timezone.now()
        locked.save(update_fields=["purged_at"])
        audit_append(
            action="response.purged",
            target=locked.request,
            data={"sealed_response_id": locked.pk, "sha256": locked.sha256},
        )
