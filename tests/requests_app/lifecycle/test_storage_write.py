"""``storage_write``: bytes written straight into the storage, named only once complete."""

import os
import stat

import pytest
from django.core.files.storage import default_storage

from requests_app.lifecycle.storage import storage_write
from tests.requests_app.delivery_helpers import tmp_storage


def test_the_file_has_no_name_until_it_is_complete(settings, tmp_path):
    storage = tmp_storage(settings, tmp_path)
    seen = []

    def write(file):
        file.write(b"age-encryption.org/v1\n")
        seen.append(sorted(os.listdir(storage / "sealed")))  # while it is being written
        file.write(b"the rest")

    name = storage_write("sealed/LR-1-x.age", write)

    assert seen == [[]]
    assert name == "sealed/LR-1-x.age"
    assert (storage / name).read_bytes() == b"age-encryption.org/v1\nthe rest"
    # the mode the storage's own save gives its files
    assert stat.S_IMODE((storage / name).stat().st_mode) == settings.FILE_UPLOAD_PERMISSIONS


def test_a_write_that_fails_leaves_nothing_behind(settings, tmp_path):
    storage = tmp_storage(settings, tmp_path)

    def write(file):
        file.write(b"age-encryption.org/v1\n" * 1000)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        storage_write("sealed/LR-1-x.age", write)

    assert os.listdir(storage / "sealed") == []


def test_a_name_already_taken_is_left_alone_and_a_free_one_is_used(settings, tmp_path):
    storage = tmp_storage(settings, tmp_path)
    (storage / "sealed").mkdir()
    (storage / "sealed" / "LR-1-x.age").write_bytes(b"earlier")

    name = storage_write("sealed/LR-1-x.age", lambda file: file.write(b"later"))

    assert name != "sealed/LR-1-x.age"
    assert name.startswith("sealed/LR-1-x")
    assert (storage / "sealed" / "LR-1-x.age").read_bytes() == b"earlier"
    assert (storage / name).read_bytes() == b"later"


def test_a_storage_without_local_paths_gets_the_bytes_through_its_own_save(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }

    name = storage_write("sealed/LR-1-x.age", lambda file: file.write(b"ciphertext"))

    with default_storage.open(name, "rb") as stored:
        assert stored.read() == b"ciphertext"
