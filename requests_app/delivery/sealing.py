"""Seal a disclosure: build the ZIP, stream it through age, store only the ciphertext.

The plaintext exists only in memory, a few pieces at a time: ``ZipStream`` writes the
archive only as fast as it is read, on a thread of its own, and hands it to age through
a bounded queue; a third thread hashes and writes the ciphertext (``seal_to_file``).
The plaintext is never written to disk or to the database, and memory stays bounded
however large the members. Running twice for one disclosure stores one sealed response
(a unique constraint); a run that dies half-way leaves no row, and the retry starts over.
"""

import hashlib
import io
import logging
import tempfile
import threading
import uuid
import zipfile
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, BinaryIO

from django import db
from django.conf import settings
from django.core.files import File
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
from requests_app.lifecycle.storage import storage_save
from requests_app.sources.base import TargetFile

logger = logging.getLogger(__name__)
CHUNK = 1024 * 1024


# Between the threads of a seal, bytes move in pieces this large: hashlib and zlib release
# the GIL on a large buffer, so a thread hashing a piece runs beside the thread encrypting.
PIPE_CHUNK = 1024 * 1024
# At most this many pieces wait in each hand-off: the memory a seal holds stays bounded.
PIPE_DEPTH = 2
_END = object()


class _Cancelled(Exception):
    """The other side of a hand-off failed: stop, the seal has already failed."""


class _Handoff:
    """A bounded queue of byte pieces from one thread to another, that either side can cancel.

    ``put`` waits while the queue is full and ``get`` while it is empty, unless the hand-off
    was cancelled (a failure on either side): then both raise, so no thread waits forever.
    """

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._ready = threading.Condition()
        self._cancelled = False

    def put(self, item: Any) -> None:
        with self._ready:
            while len(self._items) >= PIPE_DEPTH and not self._cancelled:
                self._ready.wait()
            if self._cancelled:
                raise _Cancelled
            self._items.append(item)
            self._ready.notify_all()

    def get(self) -> Any:
        with self._ready:
            while not self._items and not self._cancelled:
                self._ready.wait()
            if self._cancelled:
                raise _Cancelled
            item = self._items.popleft()
            self._ready.notify_all()
            return item

    def cancel(self) -> None:
        with self._ready:
            self._cancelled = True
            self._items.clear()
            self._ready.notify_all()


class HashingWriter:
    """A write-only file that counts and hashes what passes into the file it wraps.

    age hands it 64 KiB pieces; they are gathered into ``PIPE_CHUNK``-sized ones that a
    thread of their own hashes and writes into ``sink``, while age encrypts the next.
    ``close`` waits for that thread and raises what it met (a full disk). ``size`` counts
    what was written to it, at once; ``digest`` is complete once ``close`` returned.
    """

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._handoff = _Handoff()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="seal-ciphertext", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while (piece := self._handoff.get()) is not _END:
                self.digest.update(piece)
                self.sink.write(piece)
        except _Cancelled:
            pass
        except BaseException as exc:
            self._failure = exc
            self._handoff.cancel()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def write(self, data: bytes) -> int:
        self._raise_failure()
        self._pending.append(bytes(data))  # bytes as they are; anything else copied
        self._pending_size += len(data)
        self.size += len(data)
        if self._pending_size >= PIPE_CHUNK:
            self._send()
        return len(data)

    def _send(self) -> None:
        piece = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        try:
            self._handoff.put(piece)
        except _Cancelled:
            self._raise_failure()
            raise

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Write what is left, wait for the writing thread, and raise what it met."""
        if self._thread.is_alive():
            try:
                if self._pending:
                    self._send()
                self._handoff.put(_END)
            except _Cancelled:
                pass  # the writing thread failed: its reason is raised below
            finally:
                self._thread.join()
        self._raise_failure()
        self.sink.flush()

    def abandon(self) -> None:
        """Stop the writing thread without finishing (the seal failed)."""
        self._handoff.cancel()
        self._thread.join()


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


class _Pieces:
    """Where the ZIP writer puts its bytes: kept as written, without a copy, until read."""

    def __init__(self) -> None:
        self.queue: deque[memoryview] = deque()
        self.size = 0

    def write(self, data: bytes) -> int:
        # A chunk given as bytes cannot change; anything else is copied now.
        piece = memoryview(data if isinstance(data, bytes) else bytes(data))
        if piece.nbytes:
            self.queue.append(piece)
            self.size += piece.nbytes
        return piece.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class ZipStream(io.RawIOBase):
    """The ZIP archive of ``files``, as a readable stream that is written as it is read.

    Each read runs the ZIP writer just until it has produced enough bytes, so about one
    chunk of plaintext is in memory at a time; ``seal_to_file`` runs it on its own thread.
    Members given as bytes are deflated (``response.json``); members given as a stream
    are stored as they are: they are documents and media that are compressed already,
    and deflating them would cost far more than encrypting them.
    """

    def __init__(self, files: Iterable[tuple[str, Member]]) -> None:
        self._pieces = _Pieces()
        self._steps = self._write(files)
        self._finished = False
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def _write(self, files: Iterable[tuple[str, Member]]) -> Iterator[None]:
        with zipfile.ZipFile(self._pieces, "w") as archive:
            for name, data in files:
                info = zipfile.ZipInfo(name)
                info.compress_type = (
                    zipfile.ZIP_DEFLATED if isinstance(data, bytes) else zipfile.ZIP_STORED
                )
                # force_zip64: a streamed member's size is unknown until its end.
                with archive.open(info, "w", force_zip64=not isinstance(data, bytes)) as member:
                    for chunk in _chunks(data):
                        member.write(chunk)
                        yield
        yield

    def _produce(self, wanted: int) -> None:
        """Run the ZIP writer until ``wanted`` bytes wait, or the archive is complete."""
        pieces = self._pieces
        while pieces.size < wanted and not self._finished:
            try:
                next(self._steps)
            except StopIteration:
                self._finished = True
            except BaseException as exc:
                self.failure = exc  # age sees only that the read failed
                raise

    def read_piece(self, wanted: int) -> bytes:
        """About ``wanted`` bytes of the archive as one piece (b"" at its end), copied once."""
        self._produce(wanted)
        pieces = self._pieces
        taken = list(pieces.queue)
        pieces.queue.clear()
        pieces.size = 0
        return b"".join(taken)

    def readinto(self, buffer: Any) -> int:
        pieces = self._pieces
        wanted = len(buffer)
        self._produce(wanted)
        filled = 0
        with memoryview(buffer) as target:
            while filled < wanted and pieces.queue:
                piece = pieces.queue[0]
                take = min(piece.nbytes, wanted - filled)
                target[filled : filled + take] = piece[:take]
                filled += take
                if take == piece.nbytes:
                    pieces.queue.popleft()
                else:
                    pieces.queue[0] = piece[take:]
        pieces.size -= filled
        return filled


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


class _PlaintextReader(io.RawIOBase):
    """What age reads: the pieces of the ZIP that another thread builds, in order."""

    def __init__(self, handoff: _Handoff) -> None:
        self._handoff = handoff
        self._piece = memoryview(b"")
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._piece.nbytes and not self._ended:
            piece = self._handoff.get()
            if piece is _END:
                self._ended = True
            else:
                self._piece = memoryview(piece)
        take = min(len(buffer), self._piece.nbytes)
        buffer[:take] = self._piece[:take]
        self._piece = self._piece[take:]
        return take


def _build_archive(source: ZipStream, handoff: _Handoff) -> None:
    """Run the ZIP writer (its CRC-32, the files' SHA-256 checks) and hand on its pieces."""
    try:
        while piece := source.read_piece(PIPE_CHUNK):
            handoff.put(piece)
        handoff.put(_END)
    except _Cancelled:
        pass
    except BaseException:  # ZipStream keeps it in source.failure; age sees the cancel
        handoff.cancel()
    finally:
        # A data source that reads the database while its file streams did so on this
        # thread's own connection: close it with the thread.
        db.connections.close_all()


def seal_to_file(
    files: Iterable[tuple[str, Member]], recipients: list[str], out: BinaryIO
) -> HashingWriter:
    """Stream the ZIP of ``files`` through age into ``out``; return its size and hash.

    Three threads, each on large pieces: one builds the archive (deflate, CRC-32 and the
    files' SHA-256 checks), this one encrypts (pyrage, which holds the GIL while it
    encrypts), one hashes the ciphertext and writes it. hashlib, zlib and file writes
    release the GIL on large buffers, so the hashing runs beside the encryption instead
    of after it, and at most a few pieces per hand-off are held in memory.
    """
    source = ZipStream(files)
    plaintext = _Handoff()
    builder = threading.Thread(
        target=_build_archive, args=(source, plaintext), name="seal-archive", daemon=True
    )
    hashing = HashingWriter(out)
    builder.start()
    try:
        reader = io.BufferedReader(_PlaintextReader(plaintext), buffer_size=PIPE_CHUNK)
        crypto.age_seal_stream(reader, hashing, recipients)  # type: ignore[arg-type]
        hashing.close()
    except BaseException:
        plaintext.cancel()
        hashing.abandon()
        builder.join()
        if source.failure is not None:
            raise crypto.SealError(
                f"building the archive failed: {source.failure}"
            ) from source.failure
        raise
    finally:
        builder.join()
    return hashing


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
    with tempfile.TemporaryFile() as ciphertext:  # ciphertext only: safe on disk
        written = seal_to_file(
            archive_members(body, signature, layout, certificate), recipients, ciphertext
        )
        del body, layout
        ciphertext.seek(0)
        stored = storage_save(name, File(ciphertext, name=name))

    try:
        with transaction.atomic():
            locked = LegalRequest.objects.select_for_update().get(pk=disclosure.request_id)
            sealed = SealedResponse.objects.create(
                disclosure=disclosure,
                request=locked,
                file=stored,
                size=written.size,
                sha256=written.digest.hexdigest(),
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
