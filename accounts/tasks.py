"""Scheduled work on accounts (run by Celery beat).

Thin tasks: each calls one service, which finds its own work and is safe to run twice.
"""

from celery import shared_task

from .services.password import password_reset_link_send
from .services.unconfirmed import registrations_expired_purge


@shared_task(name="accounts.tasks.registrations_expired_purge")
def registrations_expired_purge_task() -> int:
    """Discard registrations whose mailbox links all expired unconfirmed (frees addresses)."""
    return registrations_expired_purge()


@shared_task(name="accounts.tasks.password_reset_link_mail")
def password_reset_link_mail(user_id: int) -> bool:
    """Mail a password reset link, out of the request: the form answers alike either way."""
    return password_reset_link_send(user_id=user_id)
