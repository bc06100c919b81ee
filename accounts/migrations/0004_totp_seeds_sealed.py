"""Seal the TOTP seeds stored before (accounts/totp_seeds.py): hex in, ciphertext out."""

from binascii import hexlify, unhexlify

from django.db import migrations

from portal.crypto import totp_seed_is_sealed, totp_seed_open, totp_seed_seal


def seal(apps, schema_editor):
    devices = apps.get_model("otp_totp", "TOTPDevice")
    for device in devices.objects.all().only("pk", "user_id", "key").iterator():
        if not totp_seed_is_sealed(device.key):
            device.key = totp_seed_seal(unhexlify(device.key.encode()), user_id=device.user_id)
            device.save(update_fields=["key"])


def unseal(apps, schema_editor):
    devices = apps.get_model("otp_totp", "TOTPDevice")
    for device in devices.objects.all().only("pk", "user_id", "key").iterator():
        if totp_seed_is_sealed(device.key):
            seed = totp_seed_open(device.key, user_id=device.user_id)
            device.key = hexlify(seed).decode("ascii")
            device.save(update_fields=["key"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_signing_passkey"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(seal, unseal)]
