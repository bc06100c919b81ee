"""Lock out password and code guessing, per account and per address.

Every failure is a row in ``AuthFailure`` and an audit event. An account is locked when
it has LOCKOUT_ACCOUNT_FAILURES failures within LOCKOUT_MINUTES, an address when it has
LOCKOUT_ADDRESS_FAILURES; the lock lifts when the oldest counted failure leaves the
window. A lock is checked before the password or code is, so a guess made during a
lock proves nothing, right or wrong; each such refused try is audited too, but not
counted, so it does not make the lock last longer.
"""

from datetime import timedelta

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


def lockout_seconds(*, email: str, ip: str | None) -> int:
    """Return how long the account or the address stays locked (0: not locked)."""
    recent = AuthFailure.objects.filter(at__gte=_window_start())
    by_account = _seconds_left(
        recent.filter(email=email.lower()), settings.LOCKOUT_ACCOUNT_FAILURES
    )
    by_address = _seconds_left(recent.filter(ip=ip), settings.LOCKOUT_ADDRESS_FAILURES) if ip else 0
    return max(by_account, by_address)


def auth_failure_record(
    *, kind: str, email: str, ip: str | None, user=None, method: str = ""
) -> int:
    """Record a failed attempt; return the lockout it caused (seconds, 0 if none).

    ``method`` names the second factor that failed (totp, backup, passkey), if any.
    """
    data = {"kind": kind, "email": email.lower(), "ip": ip}
    if method:
        data["method"] = method
    with transaction.atomic():
        AuthFailure.objects.create(kind=kind, email=email.lower(), ip=ip)
        locked = lockout_seconds(email=email, ip=ip)
        _auth_audit(action="auth.failed", email=email, user=user, data=data)
        if locked:
            _auth_audit(
                action="auth.locked_out",
                email=email,
                user=user,
                data={"email": email.lower(), "ip": ip, "seconds": locked},
            )
    return locked


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
