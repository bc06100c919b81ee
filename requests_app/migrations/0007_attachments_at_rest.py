"""Encrypt legal documents stored before they were kept as ciphertext (portal/crypto.py).

Each attachment whose stored file is not yet age ciphertext is sealed to the portal's
storage key under a new random name, and the plaintext file is deleted. Nothing to do on
a new database; reversing leaves the ciphertext in place (it is still readable).
"""

import tempfile
import uuid

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import migrations

AGE_HEADER = b"age-encryption.org/v1\n"


def seal_plaintext_documents(apps, schema_editor):
    from portal import crypto

    Attachment = apps.get_model("requests_app", "Attachment")
    plaintext_names = set()
    for attachment in Attachment.objects.all().iterator():
        name = attachment.file.name
        if not default_storage.exists(name):
            continue
        with default_storage.open(name, "rb") as stored:
            if stored.read(len(AGE_HEADER)) == AGE_HEADER:
                continue
            stored.seek(0)
            with tempfile.TemporaryFile() as sealed:
                crypto.storage_seal(stored, sealed)
                sealed.seek(0)
                new_name = default_storage.save(f"attachments/{uuid.uuid4().hex}.age", File(sealed))
        Attachment.objects.filter(pk=attachment.pk).update(file=new_name)
        plaintext_names.add(name)
    for name in plaintext_names:  # shared by requests that sent the same document
        default_storage.delete(name)


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0006_platform_files")]

    operations = [migrations.RunPython(seal_plaintext_documents, migrations.RunPython.noop)]
