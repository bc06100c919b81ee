"""Files no row names are swept: a legal document, draft document or sealed file whose row
never committed (the folders are ``lifecycle.storage.STORED_FOLDERS``).

Intake stores a document before committing its row, sealing a sealed file before writing
its row (``lifecycle.storage.storage_save``); a crash in between leaves a file nothing
names. It is ciphertext and never served, but it is an authority's data all the same, so
this periodic task (``delivery.tasks.orphan_files_sweep``) deletes it once it is surely
not a write in progress.
"""

import logging
from datetime import datetime, timedelta

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_append
from requests_app.lifecycle.storage import STORED_FOLDERS

logger = logging.getLogger(__name__)

ORPHAN_AGE = timedelta(hours=6)


def orphan_files_purge(*, now: datetime | None = None) -> dict[str, list[str]]:
    """Delete files older than ``ORPHAN_AGE`` that no row names; audit what went."""
    now = now or timezone.now()
    removed: dict[str, list[str]] = {}
    for folder, (label, field) in STORED_FOLDERS.items():
        model = apps.get_model(label)
        try:
            _, names = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        known = set(
            model._default_manager.filter(**{f"{field}__startswith": f"{folder}/"}).values_list(
                field, flat=True
            )
        )
        for name in sorted(names):
            path = f"{folder}/{name}"
            if path in known or now - default_storage.get_modified_time(path) < ORPHAN_AGE:
                continue
            default_storage.delete(path)
            removed.setdefault(folder, []).append(path)
    if removed:
        with transaction.atomic():
            audit_append(action="orphan_files.purged", data=removed)
        logger.warning("Deleted %d stored files that no row named", sum(map(len, removed.values())))
    return removed
