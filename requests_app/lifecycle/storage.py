"""Stored files and their hygiene: a failed write cleans up, files no row names are swept.

Intake stores a legal document, then commits its row; sealing stores a sealed file, then
writes its row. A database that fails in between (a crash, a worker killed between the
two) leaves a file that nothing names. It is ciphertext and never served (every download
goes through a row), but it is an authority's data all the same, so a periodic task
deletes it once it is surely not a write in progress.
"""

import io
import logging
import tempfile
import uuid
from typing import IO

from django.core.files.base import File
from django.core.files.storage import default_storage

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
