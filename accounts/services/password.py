"""Changing a password, and resetting a forgotten one through a link sent to the mailbox.

The reset link is Django's own token (``default_token_generator``): signed with the
secret key, expiring after PASSWORD_RESET_TIMEOUT, and single-use because it hashes the
password and the last login, which the reset itself changes. A new password ends every
other session of the user: Django checks on each request that a session was opened
with the user's current password (``get_session_auth_hash``) and flushes it otherwise.

A reset never logs anyone in: whoever holds the mailbox must still pass the second
factor, and an officer or agency that may not act is still refused at login.

The reset form must not tell who has an account: every address gets the same answer,
limits on the account are silent, and only a limit on the caller's network, which is
the same for every address, is shown.
"""

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.functional import Promise
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from portal.audit import audit_append
from portal.models import AuditEvent

from ..domains import DomainError, canonical_email
from ..models import User
from ..preferences import recipient_locale
from .registration import mailbox_unconfirmed
from .throttle import auth_failure_record
from .tokens import api_tokens_revoke_all

logger = logging.getLogger(__name__)

# Links mailed to one account per hour; more requests are answered alike and send nothing.
RESET_LINKS_PER_ACCOUNT_PER_HOUR = 3
# Reset requests from one network address per hour, whatever addresses they name.
RESET_REQUESTS_PER_ADDRESS_PER_HOUR = 10
# What the cache raises when Redis is down (a local memory cache never does).
CACHE_DOWN = (RedisError, OSError)


class PasswordResetLinkRefused(Exception):
    """The reset link is expired, used, altered, or made for another account."""


# --- Limits ----------------------------------------------------------------------------------


def password_reset_address_allowed(*, ip: str | None) -> bool:
    """Count a reset request from ``ip``; whether it is within the hourly limit.

    The count lives in Django's cache (Redis in production, shared by every worker); the
    window is the hour from the address's first request. With the cache down the request
    goes on (and it is logged): the per-account limit, kept in the audit chain, still
    protects every mailbox.
    """
    key = f"password_reset_address:{ip or 'unknown'}"
    try:
        cache.add(key, 0, timeout=3600)
        try:
            count = cache.incr(key)
        except ValueError:  # the window ended between the two calls
            cache.set(key, 1, timeout=3600)
            count = 1
    except CACHE_DOWN:
        logger.warning("Password reset limit per address not enforced: the cache is unavailable")
        return True
    return count <= RESET_REQUESTS_PER_ADDRESS_PER_HOUR


def _links_sent_recently(user: User) -> int:
    return AuditEvent.objects.filter(
        action="auth.password_reset_requested",
        target_type=user._meta.label_lower,
        target_id=str(user.pk),
        created_at__gte=timezone.now() - timedelta(hours=1),
        data__link_sent=True,
    ).count()


def _reset_refusal(user: User) -> str | None:
    """Why no link goes to this account, or ``None`` (the reason is for the audit only)."""
    if mailbox_unconfirmed(user=user):
        return "mailbox_unverified"  # the mailbox link flow owns these accounts
    if not user.is_active:
        return "inactive"
    if not user.has_usable_password():
        return "no_password"
    if _links_sent_recently(user) >= RESET_LINKS_PER_ACCOUNT_PER_HOUR:
        return "too_many_links"
    return None


# --- Mail ----------------------------------------------------------------------------------


def _mail(*, to: User, subject: str | Promise, template: str, context: dict[str, Any]) -> None:
    """Render and send one mail in its recipient's language and time zone."""
    with recipient_locale(to):
        body = render_to_string(template, context)
        subject_text = str(subject)
    EmailMessage(subject=subject_text, body=body, to=[to.email]).send()


def _notice_on_commit(*, user: User, subject: str | Promise, template: str) -> None:
    """Tell the user what happened to their password, once it is committed."""
    transaction.on_commit(
        partial(
            _mail,
            to=user,
            subject=subject,
            template=template,
            context={
                "email": user.email,
                "when": timezone.now(),
                "reset_url": settings.PORTAL_AUDIENCE + reverse("password-reset"),
            },
        ),
        # A mail server failure must not turn a committed change into an error page.
        robust=True,
    )


def password_reset_link_url(*, user: User) -> str:
    """Return a new reset link for ``user`` on the portal's configured origin.

    Never the request's Host header: a forged Host must not send the link elsewhere.
    """
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.PORTAL_AUDIENCE + reverse("password-reset-confirm", args=[uid, token])


def password_reset_link_send(*, user_id: int) -> bool:
    """Mail a reset link to the user, if they may still have one; whether it was sent.

    Runs in a task, so the answer to the form takes as long whether or not a mail goes.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or mailbox_unconfirmed(user=user):
        return False
    _mail(
        to=user,
        subject=_("Reset your password for the authority portal"),
        template="accounts/email/password_reset_link.txt",
        context={
            "email": user.email,
            "link": password_reset_link_url(user=user),
            "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            "reset_url": settings.PORTAL_AUDIENCE + reverse("password-reset"),
        },
    )
    return True


# --- Services --------------------------------------------------------------------------------


def password_change(
    *, user: User, password: str, ip: str | None, revoke_tokens: bool = False
) -> int:
    """Set a new password the user chose in a verified session; tell them by email.

    The caller keeps its own session with ``update_session_auth_hash``; every other
    session of the user ends at its next request. With ``revoke_tokens`` (the form's
    box) every live API token of the user is revoked too; the audit event says how many
    (0 when the box was left empty). Returns that number.
    """
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        revoked = (
            api_tokens_revoke_all(user=user, actor=user, reason="password_changed")
            if revoke_tokens
            else 0
        )
        audit_append(
            actor=user,
            action="auth.password_changed",
            target=user,
            data={"ip": ip, "revoke_tokens": revoke_tokens, "api_tokens_revoked": revoked},
        )
        _notice_on_commit(
            user=user,
            subject=_("Your authority portal password was changed"),
            template="accounts/email/password_changed.txt",
        )
    return revoked


def password_change_refuse(*, user: User, ip: str | None) -> int:
    """Record a wrong current password on the change form; return the lockout it caused.

    It counts towards the account's lockout exactly as a wrong password at login does.
    """
    with transaction.atomic():
        locked = auth_failure_record(kind="password", email=user.email, ip=ip, user=user)
        audit_append(
            actor=user,
            action="auth.password_change_refused",
            target=user,
            data={"ip": ip, "reason": "wrong_password"},
        )
    return locked


def password_reset_request(*, email: str, ip: str | None) -> None:
    """Mail a reset link if the address has an account that may have one; else nothing.

    Audited only when the account exists, with whether a link went and why not.
    """
    try:
        address = canonical_email(email)
    except DomainError:
        return
    user = User.objects.filter(email__iexact=address).first()
    if user is None:
        return
    with transaction.atomic():
        refusal = _reset_refusal(user)
        data: dict[str, Any] = {"ip": ip, "link_sent": refusal is None}
        if refusal is not None:
            data["reason"] = refusal
        audit_append(actor=None, action="auth.password_reset_requested", target=user, data=data)
        if refusal is None:
            password_reset_link_mail.delay(user.pk)  # enqueued when this commits


def password_reset_complete(
    *, user: User, token: str | None, password: str, ip: str | None
) -> User:
    """Set the password a reset link allows; the link then no longer works.

    The token is checked again on the locked row, so two uses of one link cannot both
    succeed. Raise ``PasswordResetLinkRefused`` if it no longer holds.

    Every live API token of the user is revoked: a reset says the password may have been
    lost, and a token made with it would outlive the new one.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not default_token_generator.check_token(locked, token):
            raise PasswordResetLinkRefused
        locked.set_password(password)
        locked.save(update_fields=["password"])
        revoked = api_tokens_revoke_all(user=locked, actor=locked, reason="password_reset")
        audit_append(
            actor=locked,
            action="auth.password_reset",
            target=locked,
            data={"ip": ip, "api_tokens_revoked": revoked},
        )
        _notice_on_commit(
            user=locked,
            subject=_("Your authority portal password was reset"),
            template="accounts/email/password_reset_done.txt",
        )
    return locked


def password_reset_link_refuse(*, user: User | None, ip: str | None) -> None:
    """Audit a reset link that was refused; nothing else changes."""
    with transaction.atomic():
        audit_append(
            actor=None,
            action="auth.password_reset_link_refused",
            target=user,
            target_type="" if user else "password_reset_link",
            data={"ip": ip},
        )


# Defined beside the service it runs (accounts.tasks re-exports it for the worker's
# discovery), so that neither module imports the other.
@shared_task(name="accounts.tasks.password_reset_link_mail")
def password_reset_link_mail(user_id: int) -> bool:
    """Mail a password reset link, out of the request: the form answers alike either way."""
    return password_reset_link_send(user_id=user_id)
