"""Scheduled work on requests: reminders and the user-notice sweep (run by Celery beat).

Thin tasks: each calls one service, which finds its own work and is safe to run twice
(the audit event of a reminder, and the one notice per request, are the marks).
"""

from celery import shared_task

from requests_app.lifecycle.clocks import deadline_reminders_send, preservation_reminders_send

# The escalation module holds the paging task beside its service; importing it here
# registers that task with the worker too (CELERY_IMPORTS names this module).
from requests_app.review.escalation import emergency_escalations_send
from requests_app.review.notices import user_notices_sweep


@shared_task(name="requests_app.review.tasks.deadline_reminders")
def deadline_reminders_task() -> int:
    """Remind reviewers of requests whose deadline is near or passed."""
    return deadline_reminders_send()


@shared_task(name="requests_app.review.tasks.preservation_reminders")
def preservation_reminders_task() -> int:
    """Remind officers of preservations that end within a week."""
    return preservation_reminders_send()


@shared_task(name="requests_app.review.tasks.user_notices_sweep")
def user_notices_sweep_task() -> int:
    """Put disclosed requests whose non-disclosure order lapsed (or had none) on the list."""
    return user_notices_sweep()


@shared_task(name="requests_app.review.tasks.emergency_escalations")
def emergency_escalations_task() -> int:
    """Tell the on-call reviewers of emergencies nobody claimed (every interval, until one)."""
    return emergency_escalations_send()
