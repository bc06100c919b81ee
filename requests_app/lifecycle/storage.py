"""Stored files and their hygiene: a failed write cleans up, files no row names are swept.

Intake stores a legal document, then commits its row; sealing stores a sealed file, then
writes its row. A database that fails in between (a crash, a worker killed between the
two) leaves a file that nothing names. It is ciphertext and never served (every download
goes through a row), but it is an authority's data all the same, so a periodic task
deletes it once it is surely not a write in progress.
"""

import io
import logging
import os
import tempfile
import uuid
from collections.abc import Callable
from typing import IO, BinaryIO

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, default_storage

from portal import crypto

logger = logging.getLogger(__name__)

# Each folder of the default storage, and the model and file field whose rows name its
# files (by label: the stages that own them sit above this module). The sweeper
# (``delivery.orphans``) deletes what no row names.
STORED_FOLDERS: dict[str, tuple[str, str]] = {
    "attachments": ("requests_app.Attachment", "file"),
    "sealed": ("requests_app.SealedResponse", "file"),
    "drafts": ("requests_app.DraftDocument", "file"),
    "message-documents": ("requests_app.MessageAttachment", "file"),
}


def storage_save(name: str, content: File) -> str:
    """Save ``content`` under ``name`` in the default storage; return the name it got.

    A write that fails part-way (a full disk) leaves what it wrote: delete it at once
    rather than leave it to the sweeper below.
    """
    try:
        return default_storage.save(name, content)
    except BaseException:
        default_storage.delete(name)
        raise


def storage_write(name: str, write: Callable[[BinaryIO], object]) -> str:
    """Store under ``name`` what ``write`` writes into the file it is given; return the name
    it got (``name``, or the free one the storage makes of it).

    On the file-system storage the bytes go where they will stay: into a file without a
    name (``O_TMPFILE``) in the folder of ``name``, linked under its name once ``write``
    returned. Nothing is copied, and a write that fails, or a process killed half-way,
    leaves nothing behind. Elsewhere (another storage, a file system without unnamed files)
    they go into an anonymous temporary file, then through ``storage_save``.
    """
    unnamed = _unnamed_file(name)
    with unnamed or tempfile.TemporaryFile() as file:
        write(file)
        if unnamed is not None:
            return _name_file(unnamed.fileno(), name)
        file.seek(0)
        return storage_save(name, File(file, name=name))


def _unnamed_file(name: str) -> BinaryIO | None:
    """A file without a name in the folder where ``name`` goes, or None where there is none."""
    tmpfile = getattr(os, "O_TMPFILE", None)
    if tmpfile is None or not isinstance(default_storage, FileSystemStorage):
        return None  # another storage (its path, if any, is not where its files are)
    folder = os.path.dirname(default_storage.path(name))
    os.makedirs(folder, exist_ok=True)
    try:
        handle = os.open(folder, tmpfile | os.O_RDWR, 0o600)
    except OSError:  # a file system without them
        return None
    return open(handle, "wb", buffering=0)  # closed by storage_write


def _name_file(handle: int, name: str) -> str:
    """Link the unnamed file ``handle`` under ``name``, or a free name made from it."""
    mode = getattr(default_storage, "file_permissions_mode", None)
    if mode is not None:  # as the storage's own save leaves its files
        os.fchmod(handle, mode)
    while True:
        name = default_storage.get_available_name(name)
        folder, base = os.path.split(default_storage.path(name))
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N: how a file opened with
            # O_TMPFILE gets a name (open(2)), without privilege.
            os.link(
                f"/proc/self/fd/{handle}",
                base,
                src_dir_fd=directory,
                dst_dir_fd=directory,
                follow_symlinks=True,
            )
            return name
        except FileExistsError:
            continue  # taken since: another free name
        finally:
            os.close(directory)


def sealed_save(source: IO[bytes], *, folder: str) -> str:
    """Store ``source`` as age ciphertext to the portal's storage key, never as is.

    The name is random: a name derived from the content (its hash) would let whoever
    holds the storage confirm that a document they know is among the portal's.
    """
    source.seek(0)
    name = f"{folder}/{uuid.uuid4().hex}.age"
    with tempfile.TemporaryFile() as sealed:  # ciphertext only
        crypto.storage_seal(source, sealed)
        sealed.seek(0)
        return storage_save(name, File(sealed))


def sealed_copy(name: str, *, folder: str) -> str:
    """Store a second copy of a stored ciphertext under a new random name in ``folder``."""
    with default_storage.open(name, "rb") as stored:
        return storage_save(f"{folder}/{uuid.uuid4().hex}.age", File(stored))


def sealed_read(name: str) -> bytes:
    """The plaintext of a stored ciphertext (``crypto.CryptoError`` if it does not open)."""
    plain = io.BytesIO()
    with default_storage.open(name, "rb") as stored:
        crypto.storage_open(stored, plain)
    return plain.getvalue()
