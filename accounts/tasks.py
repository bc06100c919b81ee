"""Scheduled work on accounts (run by Celery beat).

Thin tasks: each calls one service, which finds its own work and is safe to run twice.
"""

from celery import shared_task

from .services.password import password_reset_link_mail  # noqa: F401  (registered here too)
from .services.unconfirmed import registrations_expired_purge


@shared_task(name="accounts.tasks.registrations_expired_purge")
def registrations_expired_purge_task() -> int:
    """Discard registrations whose mailbox links all expired unconfirmed (frees addresses)."""
    return registrations_expired_purge()
