"""Notification emails about requests: who receives them, and words that carry no content.

Email leaves the portal's protection (it may cross mail servers of either side in the
clear), so no message names a request, a case, a target or a decision: it says only
that something is waiting, and the reader logs in to see what.
"""

import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Role, User
from accounts.preferences import language_valid, user_zone
from requests_app.lifecycle.models import LegalRequest, Message, RequestShare, ReviewState

logger = logging.getLogger(__name__)

FOOTER = _("This email carries no details on purpose.")


@dataclass(frozen=True)
class Notice:
    """A mail's words, kept lazy: they are rendered in each recipient's own language."""

    subject: str | Promise
    body: str | Promise


# To officers.
REQUEST_UPDATED = Notice(
    _("A request of yours has an update"),
    _(
        "One of your requests on the authority portal has an update.\n"
        "Log in to the portal to read it.\n"
    ),
)
REQUEST_SHARED = Notice(
    _("A request was shared with you"),
    _(
        "A colleague at your agency shared a request with you on the authority portal.\n"
        "Log in to the portal to read it.\n"
    ),
)
PRESERVATION_ENDING = Notice(
    # Translators: a preservation is the platform's keeping (freezing) of data an
    # authority asked it to keep until legal process for its disclosure arrives.
    _("A preservation ends soon"),
    _(
        "A preservation your agency asked for on the authority portal ends soon.\n"
        "Log in to the portal to extend it, or send the legal process before it lapses.\n"
    ),
)
# To reviewers.
AUTHORITY_WROTE = Notice(
    _("An authority has written"),
    _(
        "An authority wrote in the thread of a request you handle on the authority portal.\n"
        "Log in to the portal to read it.\n"
    ),
)
REQUEST_WITHDRAWN = Notice(
    _("A request was withdrawn"),
    _(
        "An authority withdrew a request you handle on the authority portal.\n"
        "Log in to the portal to see it.\n"
    ),
)
PRESERVATION_EXTENDED = Notice(
    _("A preservation was extended"),
    _(
        "An authority extended a preservation you handle on the authority portal.\n"
        "Log in to the portal to see the new expiry.\n"
    ),
)


def _reminder_body(count: int) -> str:
    return ngettext(
        "%(count)d request in your review queue will reach the deadline soon or has "
        "passed it.\nLog in to the portal to see which.\n",
        "%(count)d requests in your review queue will reach the deadline soon or have "
        "passed it.\nLog in to the portal to see which.\n",
        count,
    ) % {"count": count}


_lazy_reminder_body = lazy(_reminder_body, str)


def deadline_reminder(count: int) -> Notice:
    return Notice(_("Requests due soon"), _lazy_reminder_body(count))


def authority_addresses(request: LegalRequest) -> list[str]:
    """The submitting officer and the colleagues it is shared with, while they may act."""
    officers = [request.officer]
    officers += [
        share.officer
        for share in RequestShare.objects.filter(
            request_id=request.pk, revoked_at__isnull=True
        ).select_related("officer__user", "officer__agency")
    ]
    return sorted(
        {
            officer.user.email
            for officer in officers
            if officer.can_act and officer.agency_id == request.agency_id
        }
    )


def _active_reviewer(user: User) -> bool:
    return user.is_active and user.role == Role.REVIEWER


def reviewer_addresses(request: LegalRequest) -> list[str]:
    """The reviewer who handles a request: its assignee, else whoever last wrote to the
    authority; nobody when neither is an active reviewer (the queue shows it)."""
    state = ReviewState.objects.filter(request_id=request.pk).select_related("assignee").first()
    assignee = state.assignee if state is not None else None
    if assignee is not None and _active_reviewer(assignee):
        return [assignee.email]
    last = (
        Message.objects.filter(request_id=request.pk, side=Message.Side.PLATFORM)
        .select_related("author")
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is not None and _active_reviewer(last.author):
        return [last.author.email]
    return []


def _recipient(address: str) -> User | None:
    return User.objects.filter(email=address.lower()).select_related("officer__agency").first()


def _send(address: str, notice: Notice) -> None:
    """Render the notice in the recipient's saved language and zone, then send it."""
    recipient = _recipient(address)
    language = getattr(recipient, "language", "") or ""
    if not language_valid(language):
        language = settings.LANGUAGE_CODE
    zone = user_zone(recipient) if recipient is not None else "UTC"
    with translation.override(language), timezone.override(zone):
        subject = str(notice.subject)
        body = f"{notice.body}\n{FOOTER}\n"
    EmailMessage(subject=subject, body=body, to=[address]).send()


def notify_now(addresses: list[str], notice: Notice) -> int:
    """Send one email per address (nobody sees the others); return how many left."""
    sent = 0
    for address in addresses:
        try:
            _send(address, notice)
        except Exception:
            logger.exception("Notification %r to one address failed", notice.subject)
        else:
            sent += 1
    return sent


def notify_on_commit(addresses: list[str], notice: Notice) -> None:
    """Send the notice once the surrounding transaction commits, one email per address."""
    for address in addresses:
        transaction.on_commit(partial(_send, address, notice), robust=True)
