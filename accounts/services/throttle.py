"""Lock out password and code guessing: per account and address, per address, per account.

Every failure is a row in ``AuthFailure`` and an audit event. Within LOCKOUT_MINUTES:

- an account is locked *from one address* after LOCKOUT_ACCOUNT_FAILURES failures from
  that address: the guesser is stopped, and the officer, elsewhere, is not;
- an address is locked for every account after LOCKOUT_ADDRESS_FAILURES failures;
- an account is locked *everywhere* only once failures come from LOCKOUT_ACCOUNT_ADDRESSES
  distinct addresses (a guessing campaign spread over many machines). Under that lock a
  passkey still logs the officer in (``passkey=True``): it cannot be guessed, and the
  login page then asks for it before the password (``accounts.views.auth``).

Before, five wrong passwords from one address locked any officer out everywhere, which
let anyone who knew an address deny the officer the portal for as long as they liked.

A lock lifts when the counted failures that make it leave the window. A lock is checked
before the password or code is, so a guess made during a lock proves nothing, right or
wrong; each such refused try is audited too, but not counted, so it does not make the
lock last longer.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_append

from ..models import AuthFailure


def _window_start():
    return timezone.now() - timedelta(minutes=settings.LOCKOUT_MINUTES)


def _seconds_left(failures, limit: int) -> int:
    times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return 0
    unlock = times[-1] + timedelta(minutes=settings.LOCKOUT_MINUTES)
    return max(1, int((unlock - timezone.now()).total_seconds()) + 1)


@dataclass(frozen=True)
class Lock:
    """How long a caller stays locked out (0: not at all), and by which rule."""

    seconds: int
    scope: str = ""  # "account_address", "address" or "account"

    def __bool__(self) -> bool:
        return self.seconds > 0


def _account_seconds_left(failures) -> int:
    """How long the failures from distinct addresses keep the account locked everywhere."""
    limit = settings.LOCKOUT_ACCOUNT_ADDRESSES
    latest: dict[str | None, datetime] = {}
    for ip, at in failures.order_by("-at").values_list("ip", "at"):
        latest.setdefault(ip, at)  # the newest failure of each address
    if len(latest) < limit:
        return 0
    # The lock holds until all but limit - 1 addresses have no failure in the window.
    times = sorted(latest.values(), reverse=True)
    unlock = times[limit - 1] + timedelta(minutes=settings.LOCKOUT_MINUTES)
    return max(1, int((unlock - timezone.now()).total_seconds()) + 1)


def lockout_state(*, email: str, ip: str | None, passkey: bool = False) -> Lock:
    """Return the lock that holds for ``email`` tried from ``ip`` (a false ``Lock``: none).

    ``passkey=True`` for a passkey: the account-wide lock does not apply to it.
    """
    recent = AuthFailure.objects.filter(at__gte=_window_start())
    account = recent.filter(email=email.lower())
    locks = [
        Lock(
            _seconds_left(account.filter(ip=ip), settings.LOCKOUT_ACCOUNT_FAILURES),
            "account_address",
        ),
        Lock(
            _seconds_left(recent.filter(ip=ip), settings.LOCKOUT_ADDRESS_FAILURES) if ip else 0,
            "address",
        ),
    ]
    if not passkey:
        locks.append(Lock(_account_seconds_left(account), "account"))
    held = [lock for lock in locks if lock]
    return max(held, key=lambda lock: lock.seconds) if held else Lock(0)


def lockout_seconds(*, email: str, ip: str | None, passkey: bool = False) -> int:
    """Return how long ``email`` stays locked from ``ip`` (0: not locked)."""
    return lockout_state(email=email, ip=ip, passkey=passkey).seconds


def auth_failure_record(
    *, kind: str, email: str, ip: str | None, user=None, method: str = ""
) -> int:
    """Record a failed attempt; return the lockout it caused (seconds, 0 if none).

    ``method`` names the second factor that failed (totp, backup, passkey), if any. The
    lockout returned for a failed passkey is one that stops passkeys (not the
    account-wide lock); the audit names whichever lock now holds.
    """
    data = {"kind": kind, "email": email.lower(), "ip": ip}
    if method:
        data["method"] = method
    with transaction.atomic():
        AuthFailure.objects.create(kind=kind, email=email.lower(), ip=ip)
        lock = lockout_state(email=email, ip=ip)
        _auth_audit(action="auth.failed", email=email, user=user, data=data)
        if lock:
            _auth_audit(
                action="auth.locked_out",
                email=email,
                user=user,
                data={
                    "email": email.lower(),
                    "ip": ip,
                    "seconds": lock.seconds,
                    "scope": lock.scope,
                },
            )
    if method == "passkey":
        return lockout_seconds(email=email, ip=ip, passkey=True)
    return lock.seconds


def auth_locked_try_record(
    *, kind: str, email: str, ip: str | None, seconds: int, user=None, method: str = ""
) -> None:
    """Audit a try refused unchecked because the account or the address is locked.

    It is not a counted failure: the lock ends when it would have, whoever keeps trying.
    """
    data = {"kind": kind, "email": email.lower(), "ip": ip, "seconds": seconds}
    if method:
        data["method"] = method
    with transaction.atomic():
        _auth_audit(action="auth.refused_locked", email=email, user=user, data=data)


def _auth_audit(*, action: str, email: str, user, data: dict) -> None:
    """Audit a login event about ``user``, or about the typed address if no account has it."""
    audit_append(
        actor=user,
        action=action,
        target=user,
        target_type="" if user else "account",
        target_id="" if user else email.lower()[:80],
        data=data,
    )


def auth_failures_clear(*, email: str) -> None:
    """Forget an account's counted failures after it proved itself (the audit keeps them)."""
    AuthFailure.objects.filter(email=email.lower()).delete()


def auth_second_factor_record(*, user, method: str, ip: str | None) -> None:
    """Record a passed second factor: audit it and forget the account's counted failures."""
    with transaction.atomic():
        auth_failures_clear(email=user.email)
        audit_append(
            actor=user,
            action="auth.second_factor_ok",
            target=user,
            data={"method": method, "ip": ip},
        )
