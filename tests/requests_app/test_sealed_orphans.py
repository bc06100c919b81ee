"""Sealed files that no response names (a worker killed between file and row) are swept."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import AuditEvent
from requests_app.delivery import tasks
from requests_app.delivery.sealing import ORPHAN_AGE, sealed_orphans_purge
from requests_app.models import SealedResponse
from tests.requests_app.delivery_helpers import sealed_delivery, tmp_storage

pytestmark = pytest.mark.django_db


def age_file(path, by: timedelta) -> None:
    moment = (timezone.now() - by).timestamp()
    os.utime(path, (moment, moment))


def test_only_old_files_without_a_row_are_deleted_and_the_sweep_is_audited(
    client, settings, tmp_path
):
    storage = tmp_storage(settings, tmp_path)
    delivery = sealed_delivery(client)
    kept = storage / delivery.sealed.file.name
    orphan = storage / "sealed" / "LR-2026-ORPHAN-1.age"
    fresh = storage / "sealed" / "LR-2026-INPROGRESS-2.age"
    for path in (orphan, fresh):
        path.write_bytes(b"age-encryption.org/v1\n-> X25519 ...")
    long_ago = ORPHAN_AGE + timedelta(hours=1)
    age_file(kept, long_ago)
    age_file(orphan, long_ago)

    assert tasks.sealed_orphans_sweep() == 1

    assert not orphan.exists()
    assert fresh.exists()  # it may be a seal in progress
    assert kept.exists()  # a response's file is never an orphan, however old
    assert SealedResponse.objects.get().file.name == delivery.sealed.file.name
    event = AuditEvent.objects.get(action="sealed_orphans.purged")
    assert event.data == {"files": ["sealed/LR-2026-ORPHAN-1.age"]}


def test_no_sealed_folder_yet_is_nothing_to_do(settings, tmp_path):
    tmp_storage(settings, tmp_path)
    assert sealed_orphans_purge() == []
    assert not AuditEvent.objects.filter(action="sealed_orphans.purged").exists()
