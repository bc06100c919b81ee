"""User notice: telling the platform's users that their data was disclosed, once the law allows.

A request whose data was handed over (disclosed, or closed after a disclosure) enters the
user-notice list when its non-disclosure order has lapsed, or at once when it has none
and the platform's policy (``USER_NOTICE_WITHOUT_ORDER``, on by default) is to notify.
While an order runs, the request never enters the list. The platform then notifies the
users (outside the portal) and records it here, or records why it did not: each step is
audited.

An order "until 2027-01-01" is in force through that day; the notice is due from the next.

The services and selectors are here; the reviewers' page is ``views_notices`` (its URLs
``urls_notices``).
"""

from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from portal.audit import audit_append
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.lifecycle.states import review_state
from requests_app.review.models import UserNotice
from requests_app.review.services import ReviewRefused

S = LegalRequest.Status

SWEEP_BATCH = 500
RECENT_LIMIT = 20
MAX_NOTE_LENGTH = 2000


def notice_without_order() -> bool:
    """Platform policy: notify users of a disclosure that came with no non-disclosure order."""
    return bool(getattr(settings, "USER_NOTICE_WITHOUT_ORDER", True))


def _disclosed() -> Q:
    return Q(status=S.DISCLOSED) | Q(status=S.CLOSED, disclosures__isnull=False)


def order_runs(state: ReviewState, *, today: date) -> bool:
    """Whether a non-disclosure order still forbids telling the user."""
    if state.non_disclosure_until is None:
        return not notice_without_order()
    return state.non_disclosure_until >= today


# --- Services ------------------------------------------------------------------------------


def user_notice_open(*, request_id: int, now: datetime | None = None) -> UserNotice | None:
    """Put a disclosed request on the user-notice list if nothing forbids it.

    Returns the notice it opened; ``None`` when the request is already on the list or
    not due, so running it twice opens one notice and writes one audit event.
    """
    now = now or timezone.now()
    with transaction.atomic():
        request = LegalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            return None
        if UserNotice.objects.filter(request=request).exists():
            return None
        if not LegalRequest.objects.filter(_disclosed(), pk=request.pk).exists():
            return None
        state = review_state(request)
        if order_runs(state, today=now.date()):
            return None
        notice = UserNotice.objects.create(request=request, due_since=now)
        audit_append(
            action="user_notice.due",
            target=request,
            data={
                "reference": request.reference,
                "notice_id": notice.pk,
                "non_disclosure_until": state.non_disclosure_until,
                "before": None,
                "after": UserNotice.State.DUE,
            },
        )
    return notice


def user_notices_sweep(*, now: datetime | None = None) -> int:
    """Open the notices that have become due; return how many were opened."""
    now = now or timezone.now()
    candidates = (
        LegalRequest.objects.filter(_disclosed(), notice__isnull=True)
        .exclude(review__non_disclosure_until__gte=now.date())
        .distinct()
    )
    if not notice_without_order():
        candidates = candidates.filter(review__non_disclosure_until__isnull=False)
    opened = 0
    for request_id in candidates.order_by("pk").values_list("pk", flat=True)[:SWEEP_BATCH]:
        opened += 1 if user_notice_open(request_id=request_id, now=now) is not None else 0
    return opened


def _require_reviewer(user: User) -> None:
    if user.role != Role.REVIEWER or not user.is_active:
        raise ReviewRefused(_("Only reviewers of the platform's legal team may do this."))


def _handle(*, notice: UserNotice, reviewer: User, state: str, note: str) -> UserNotice:
    _require_reviewer(reviewer)
    if len(note) > MAX_NOTE_LENGTH:
        raise ReviewRefused(
            _("A note has at most %(count)d characters.") % {"count": MAX_NOTE_LENGTH}
        )
    with transaction.atomic():
        notice = UserNotice.objects.select_for_update().select_related("request").get(pk=notice.pk)
        if notice.state != UserNotice.State.DUE:
            raise ReviewRefused(_("This notice was already handled."))
        notice.state = state
        notice.handled_by = reviewer
        notice.handled_at = timezone.now()
        notice.note = note
        notice.save(update_fields=["state", "handled_by", "handled_at", "note"])
        audit_append(
            actor=reviewer,
            action=f"user_notice.{state}",
            target=notice.request,
            data={
                "reference": notice.request.reference,
                "notice_id": notice.pk,
                "before": UserNotice.State.DUE,
                "after": state,
                "note": note,
            },
        )
    return notice


def user_notice_mark_done(*, notice: UserNotice, reviewer: User, note: str = "") -> UserNotice:
    """Record that the platform told the users concerned."""
    return _handle(notice=notice, reviewer=reviewer, state=UserNotice.State.DONE, note=note.strip())


def user_notice_waive(*, notice: UserNotice, reviewer: User, note: str) -> UserNotice:
    """Record that the users will not be told, and why (the reason is required)."""
    if not note.strip():
        raise ReviewRefused(_("Say why the users will not be told."))
    return _handle(
        notice=notice, reviewer=reviewer, state=UserNotice.State.WAIVED, note=note.strip()
    )


# --- Selectors -----------------------------------------------------------------------------


def _for_reviewers(user: User) -> QuerySet[UserNotice]:
    if user.role != Role.REVIEWER or not user.is_active:
        return UserNotice.objects.none()
    return UserNotice.objects.select_related("request__agency", "request__review", "handled_by")


def user_notices_due(*, user: User) -> QuerySet[UserNotice]:
    """Notices waiting for the platform, the oldest first."""
    return _for_reviewers(user).filter(state=UserNotice.State.DUE).order_by("due_since", "pk")


def user_notices_recent(*, user: User) -> QuerySet[UserNotice]:
    """Notices handled lately, the newest first."""
    return (
        _for_reviewers(user)
        .exclude(state=UserNotice.State.DUE)
        .order_by("-handled_at", "-pk")[:RECENT_LIMIT]
    )


def user_notice_get_for_reviewer(*, user: User, notice_id: int) -> UserNotice:
    notice = _for_reviewers(user).filter(pk=notice_id).first()
    if notice is None:
        raise Http404
    return notice
