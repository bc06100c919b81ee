"""TOTP seeds are sealed in the database under a key kept outside it.

The attack: a copy of the database (a backup, a read-only SQL injection) held every
authenticator app's seed in hex, enough to make any user's codes. Now the column holds
AES-GCM ciphertext bound to the device's user; codes still work, a ciphertext moved to
another user's row and a planted plain seed are refused, and nothing is granted.
"""

from binascii import hexlify, unhexlify

import pytest
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.crypto import totp_seed_open
from portal.models import AuditEvent
from tests.factories import PASSWORD, log_in, make_user, totp_code

pytestmark = pytest.mark.django_db


def stored_key(device: TOTPDevice) -> str:
    """The column as the database holds it (no model code in between)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM otp_totp_totpdevice WHERE id = %s", [device.pk])
        (value,) = cursor.fetchone()
    return str(value)


def code_for(seed: bytes) -> str:
    import time

    generator = TOTP(seed)
    generator.time = time.time()
    return f"{generator.token():06d}"


def test_the_column_holds_no_seed_and_a_code_from_the_app_still_logs_in(client) -> None:
    user = make_user()
    device = TOTPDevice.objects.get(user=user)
    seed = device.bin_key

    column = stored_key(device)

    assert column.startswith("v1:")
    assert hexlify(seed).decode() not in column
    assert len(seed) == 20
    assert totp_seed_open(column, user_id=user.pk) == seed
    log_in(client, user)  # password, then the code the app shows
    assert DEVICE_ID_SESSION_KEY in client.session


def test_a_new_app_enrolled_through_the_page_is_sealed_too(client) -> None:
    user = make_user(totp=False)
    client.post("/login/", {"username": user.email, "password": PASSWORD})
    page = client.get("/account/factors/totp/")
    assert page.status_code == 200
    pending = TOTPDevice.objects.get(user=user, confirmed=False)

    assert stored_key(pending).startswith("v1:")
    response = client.post("/account/factors/totp/", {"code": code_for(pending.bin_key)})
    assert response.status_code == 200
    assert TOTPDevice.objects.get(user=user).confirmed


def login_with_code(user, code: str) -> Client:
    browser = Client()
    browser.post("/login/", {"username": user.email, "password": PASSWORD})
    browser.post("/login/verify/", {"method": "totp", "code": code})
    return browser


def test_a_sealed_seed_copied_into_another_users_row_opens_nothing(client) -> None:
    attacker, victim = make_user(), make_user()
    attacker_device = TOTPDevice.objects.get(user=attacker)
    # With write access to the column, the attacker puts their own sealed seed in the
    # victim's row, hoping their app's codes then log in as the victim.
    TOTPDevice.objects.filter(user=victim).update(key=stored_key(attacker_device))

    browser = login_with_code(victim, totp_code(attacker))

    assert DEVICE_ID_SESSION_KEY not in browser.session
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()


def test_a_plain_seed_planted_in_the_column_is_refused(client) -> None:
    victim = make_user()
    planted = bytes(range(20))
    TOTPDevice.objects.filter(user=victim).update(key=hexlify(planted).decode())

    browser = login_with_code(victim, code_for(planted))

    assert DEVICE_ID_SESSION_KEY not in browser.session
    assert not AuditEvent.objects.filter(action="auth.second_factor_ok").exists()


def test_the_migration_seals_the_seeds_stored_before(transactional_db) -> None:
    """Migration 0004 turns hex seeds into ciphertext, and back when reversed."""
    from django.core.management import call_command

    user = make_user()
    seed = unhexlify("3132333435363738393031323334353637383930")
    TOTPDevice.objects.filter(user=user).update(key=hexlify(seed).decode())
    device = TOTPDevice.objects.get(user=user)

    call_command("migrate", "accounts", "0003", verbosity=0)
    assert stored_key(device) == hexlify(seed).decode()  # reversed: hex again, as before
    # Every app forward again: reversing accounts also reversed whatever depends on it.
    call_command("migrate", verbosity=0)

    assert stored_key(device).startswith("v1:")
    assert TOTPDevice.objects.get(pk=device.pk).bin_key == seed
