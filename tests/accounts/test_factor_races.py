"""One code, many sessions at once: a TOTP code or a backup code passes exactly once.

Several sessions of the same user (a thief who has the password and saw one code, on
several connections) post the same valid code at the same moment, each through its own
PostgreSQL connection. Each test runs twice: with the sessions "held" until every one has
loaded the device (so the old, unlocked check lets them all through every time, whatever
the scheduling), and "free", released together.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.factors import backup_codes_generate, totp_confirm, totp_device_pending
from portal.models import AuditEvent
from tests.factories import PASSWORD, make_user, totp_code

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SESSIONS = 4
BARRIER_SECONDS = 20
# How long a held session waits for the others to load the device too. With the row
# lock they cannot (they queue on the lock), so the wait ends here and the sessions go
# on one after the other: the outcome is the same either way, only slower.
HOLD_SECONDS = 2


@pytest.fixture(params=["held", "free"])
def race_mode(request, monkeypatch, postgres) -> str:
    if request.param == "held":
        for device_class in (TOTPDevice, StaticDevice):
            hold_before_verifying(monkeypatch, device_class)
    return request.param


def hold_before_verifying(monkeypatch, device_class: type) -> None:
    """Make each session wait, with its device loaded, until all have loaded theirs."""
    all_loaded = threading.Barrier(SESSIONS)
    verify_token = device_class.verify_token

    def wait_then_verify(self, token: Any) -> bool:
        try:
            all_loaded.wait(timeout=HOLD_SECONDS)
        except threading.BrokenBarrierError:
            pass  # the others wait for the row lock this session holds
        return verify_token(self, token)

    monkeypatch.setattr(device_class, "verify_token", wait_then_verify)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; return their answers in order."""
    start = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=BARRIER_SECONDS)
            answers[index] = calls[index]()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * BARRIER_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a session never finished"
    assert not errors, errors
    return answers


def sessions_after_the_password(user, count: int = SESSIONS) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        response = client.post("/login/", {"username": user.email, "password": PASSWORD})
        assert response.status_code == 302, response.content
        clients.append(client)
    return clients


def verify_post(client: Client, method: str, code: str) -> Callable[[], Any]:
    return lambda: client.post("/login/verify/", {"method": method, "code": code})


def test_one_totp_code_sent_by_several_sessions_at_once_verifies_exactly_one(race_mode) -> None:
    user = make_user()
    clients = sessions_after_the_password(user)
    code = totp_code(user)

    answers = race(*(verify_post(client, "totp", code) for client in clients))

    assert sorted(a.status_code for a in answers) == [302] + [400] * (SESSIONS - 1)
    assert sum(DEVICE_ID_SESSION_KEY in client.session for client in clients) == 1
    assert AuditEvent.objects.filter(action="auth.second_factor_ok").count() == 1
    # Counted from the audit: the winner clears the account's counted failures, before or
    # after the losers record theirs.
    assert AuditEvent.objects.filter(action="auth.failed").count() == SESSIONS - 1


def test_one_backup_code_sent_by_several_sessions_at_once_verifies_exactly_one(
    race_mode,
) -> None:
    user = make_user()
    codes = backup_codes_generate(user=user)
    clients = sessions_after_the_password(user)

    answers = race(*(verify_post(client, "backup", codes[0]) for client in clients))

    assert sorted(a.status_code for a in answers) == [302] + [400] * (SESSIONS - 1)
    assert sum(DEVICE_ID_SESSION_KEY in client.session for client in clients) == 1
    assert AuditEvent.objects.filter(action="auth.second_factor_ok").count() == 1
    assert AuditEvent.objects.filter(action="auth.failed").count() == SESSIONS - 1
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    assert StaticToken.objects.filter(device__user=user).count() == len(codes) - 1


def test_a_new_totp_app_confirmed_by_several_sessions_at_once_is_added_once(race_mode) -> None:
    user = make_user(totp=False)
    device = totp_device_pending(user=user)
    code = totp_code(user, device=device)

    def confirm() -> bool:
        return totp_confirm(user=user, device=TOTPDevice.objects.get(pk=device.pk), token=code)

    answers = race(*([confirm] * SESSIONS))

    assert sorted(answers) == [False] * (SESSIONS - 1) + [True]
    assert list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")) == [
        (device.pk, True)
    ]
    assert AuditEvent.objects.filter(action="second_factor.added").count() == 1
