"""Stored files that no row names (an interrupted write) are swept; a failed write cleans up."""

import os
import resource
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import AuditEvent
from requests_app.delivery import tasks
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.orphans import ORPHAN_AGE, orphan_files_purge
from requests_app.delivery.sealing import response_seal
from requests_app.lifecycle.models import Attachment
from tests.requests_app.delivery_helpers import approved_disclosure, sealed_delivery, tmp_storage

pytestmark = pytest.mark.django_db


def age_file(path, by: timedelta) -> None:
    moment = (timezone.now() - by).timestamp()
    os.utime(path, (moment, moment))


def test_only_old_files_without_a_row_are_deleted_and_the_sweep_is_audited(
    client, settings, tmp_path
):
    storage = tmp_storage(settings, tmp_path)
    delivery = sealed_delivery(client)
    document = storage / Attachment.objects.get().file.name
    kept = storage / delivery.sealed.file.name
    orphans = [storage / "sealed" / "LR-2026-ORPHAN.age", storage / "attachments" / "x.age"]
    fresh = storage / "sealed" / "LR-2026-INPROGRESS.age"
    for path in (*orphans, fresh):
        path.write_bytes(b"age-encryption.org/v1\n-> X25519 ...")
    long_ago = ORPHAN_AGE + timedelta(hours=1)
    for path in (kept, document, *orphans):
        age_file(path, long_ago)

    assert tasks.orphan_files_sweep() == 2

    assert not any(path.exists() for path in orphans)
    assert fresh.exists()  # it may be a write in progress
    assert kept.exists()  # files that rows name are never orphans, however old
    assert document.exists()
    assert SealedResponse.objects.get().file.name == delivery.sealed.file.name
    event = AuditEvent.objects.get(action="orphan_files.purged")
    assert event.data == {
        "attachments": ["attachments/x.age"],
        "sealed": ["sealed/LR-2026-ORPHAN.age"],
    }


def test_no_folders_yet_is_nothing_to_do(settings, tmp_path):
    tmp_storage(settings, tmp_path)
    assert orphan_files_purge() == {}
    assert not AuditEvent.objects.filter(action="orphan_files.purged").exists()


def test_a_seal_that_cannot_write_its_file_leaves_nothing_and_stores_no_row(
    client, settings, tmp_path
):
    storage = tmp_storage(settings, tmp_path)
    delivery = approved_disclosure(client)

    # The disk takes 1 KiB of the ciphertext, then refuses (a file-size limit: the same
    # refusal from the kernel as a full disk, for this process alone).
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limits[1]))
    try:
        with pytest.raises(OSError, match="File too large"):
            response_seal(disclosure_id=delivery.disclosure.pk)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)

    assert not list((storage / "sealed").iterdir())
    assert not SealedResponse.objects.exists()
    assert response_seal(disclosure_id=delivery.disclosure.pk) is not None  # once there is room
