"""Stored files and their hygiene: a failed write cleans up, files no row names are swept.

Intake stores a legal document, then commits its row; sealing stores a sealed file, then
writes its row. A database that fails in between (a crash, a worker killed between the
two) leaves a file that nothing names. It is ciphertext and never served (every download
goes through a row), but it is an authority's data all the same, so a periodic task
deletes it once it is surely not a write in progress.
"""

import logging

from django.core.files.base import File
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)


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
