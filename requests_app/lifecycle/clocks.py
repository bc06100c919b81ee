"""The legal clocks of a request, computed one way for reviewers and officers alike.

Two clocks run on a request:

- the **deadline** (``LegalRequest.due_at``, set by intake from the policy): it runs while
  the request is open and stops while the platform waits for the authority's answer to
  a clarification. ``review.services`` adds each finished pause to ``due_at``; while a
  pause runs, the deadline shown here moves on with it, so time left stays frozen.
- the **preservation** of a preservation request: 90 days from receipt (18 U.S.C.
  2703(f)), 60 days for a preservation order under Regulation (EU) 2023/1543, Art. 11
  (every EU member state but Denmark, which is not bound by it). The issuing officer may
  extend it once before it lapses: by 90 days (2703(f)(2)'s renewed request) or, under
  the Regulation, by 30 days.

The functions here compute from a request and its review row and never write, so a list
page can show every clock without a query per row. ``preservation_extend`` and the
reminder services are the writes, each audited.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import (
    CharField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast
from django.db.models.lookups import IsNull, LessThan
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Officer, Role, User
from portal.audit import audit_append
from portal.models import AuditEvent
from requests_app.lifecycle.jurisdictions import (
    EVIDENCE_REGULATION_STATES,
    bound_by_evidence_regulation,
)
from requests_app.lifecycle.models import LegalRequest, RequestKind, ReviewState
from requests_app.lifecycle.notify import (
    PRESERVATION_ENDING,
    PRESERVATION_EXTENDED,
    authority_addresses,
    deadline_reminder,
    notify_now,
    notify_on_commit,
    reviewer_addresses,
)
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.lifecycle.states import (
    EU_PRESERVATION_DAYS,
    EU_PRESERVATION_EXTENSION_DAYS,
    OPEN_STATES,
    PRESERVATION_DAYS,
    review_state,
)

S = LegalRequest.Status

# 18 U.S.C. 2703(f)(2): "extended for an additional 90-day period upon a renewed request".
PRESERVATION_EXTENSION_DAYS = 90
# A preservation is kept while the request is alive; these end it.
PRESERVATION_ENDED_STATES = frozenset({S.WITHDRAWN, S.REJECTED, S.CLOSED})

# The deadline badges, in the review queue's words (a word, not only a colour).
DUE_SOON = timedelta(hours=48)
BADGE_LABELS = {
    "paused": gettext_lazy("Paused: awaiting clarification"),
    "overdue": gettext_lazy("Overdue"),
    "today": gettext_lazy("Due today"),
    "soon": gettext_lazy("Due within 48 hours"),
    "later": "",
}

# Reviewers hear of a deadline a quarter of its span ahead, at most a day: an emergency
# (8 hours) two hours ahead, a production order (10 days) a day ahead.
DEADLINE_REMINDER_MAX_LEAD = timedelta(hours=24)
PRESERVATION_REMINDER_LEAD = timedelta(days=7)
# Each sweep handles at most this many requests; the next sweep takes the rest.
REMINDER_BATCH = 500

DEADLINE_REMINDED = "reminder.deadline_sent"
PRESERVATION_REMINDED = "reminder.preservation_sent"
REQUEST_TARGET_TYPE = LegalRequest._meta.label_lower


def duration_text(delta: timedelta) -> str:
    """Say a duration the way a person would: "2 days 3 hours", "40 minutes"."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def day(count: int) -> str:
        return ngettext("%(count)d day", "%(count)d days", count) % {"count": count}

    def hour(count: int) -> str:
        return ngettext("%(count)d hour", "%(count)d hours", count) % {"count": count}

    def minute(count: int) -> str:
        return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}

    def pair(larger: str, smaller: str) -> str:
        # Translators: a duration of two units, e.g. "2 days" and "3 hours".
        return _("%(larger)s %(smaller)s") % {"larger": larger, "smaller": smaller}

    if days:
        return pair(day(days), hour(hours)) if hours else day(days)
    if hours:
        return pair(hour(hours), minute(minutes)) if minutes else hour(hours)
    if minutes:
        return minute(minutes)
    return _("less than a minute")


@dataclass(frozen=True)
class DeadlineClock:
    """The service deadline as it stands at ``now``."""

    now: datetime
    due_at: datetime  # moves on with a running pause
    open: bool  # the request still waits for the platform's answer
    paused: bool  # the platform waits for the authority's answer
    paused_since: datetime | None
    paused_for: timedelta  # every pause so far, the running one included
    time_left: timedelta | None  # frozen while paused; None once the request is answered

    @property
    def overdue(self) -> bool:
        return self.time_left is not None and self.time_left < timedelta(0)

    @property
    def badge(self) -> str:
        """``paused``, ``overdue``, ``today``, ``soon``, ``later``; ``""`` once answered."""
        if self.time_left is None:
            return ""
        if self.paused:
            return "paused"
        if self.overdue:
            return "overdue"
        if timezone.localtime(self.due_at).date() == timezone.localtime(self.now).date():
            return "today"
        if self.time_left <= DUE_SOON:
            return "soon"
        return "later"

    @property
    def badge_label(self) -> str:
        return str(BADGE_LABELS.get(self.badge, ""))

    @property
    def paused_for_text(self) -> str:
        return duration_text(self.paused_for)

    @property
    def time_left_text(self) -> str:
        if self.time_left is None:
            return ""
        if self.overdue:
            return _("overdue by %(duration)s") % {"duration": duration_text(self.time_left)}
        return _("%(duration)s left") % {"duration": duration_text(self.time_left)}


@dataclass(frozen=True)
class PreservationClock:
    """How long the platform keeps the preserved data, and whether it can be extended."""

    expires_at: datetime
    time_left: timedelta
    in_force: bool  # the request is alive (not withdrawn, rejected or closed)
    extended: bool
    extension_days: int

    @property
    def lapsed(self) -> bool:
        return self.time_left <= timedelta(0)

    @property
    def extendable(self) -> bool:
        """Once, before it lapses, while the request is alive."""
        return self.in_force and not self.lapsed and not self.extended

    @property
    def ending_soon(self) -> bool:
        return self.in_force and not self.lapsed and self.time_left <= PRESERVATION_REMINDER_LEAD

    @property
    def time_left_text(self) -> str:
        if self.lapsed:
            return _("lapsed")
        return _("%(duration)s left") % {"duration": duration_text(self.time_left)}


@dataclass(frozen=True)
class RequestClocks:
    deadline: DeadlineClock
    preservation: PreservationClock | None


def is_eu_request(request: LegalRequest) -> bool:
    return bound_by_evidence_regulation(request.country)


def preservation_days(request: LegalRequest) -> int:
    """How long a preservation lasts before any extension."""
    return EU_PRESERVATION_DAYS if is_eu_request(request) else PRESERVATION_DAYS


def preservation_extension_days(request: LegalRequest) -> int:
    """How long the one extension adds."""
    return EU_PRESERVATION_EXTENSION_DAYS if is_eu_request(request) else PRESERVATION_EXTENSION_DAYS


def review_row(request: LegalRequest) -> ReviewState | None:
    """The request's review row if it has one (free after ``select_related("review")``)."""
    try:
        return request.review
    except ReviewState.DoesNotExist:
        return None


def deadline_clock(
    request: LegalRequest, state: ReviewState | None, *, now: datetime
) -> DeadlineClock:
    is_open = request.status in OPEN_STATES
    paused_since = state.paused_since if state is not None and is_open else None
    running_pause = max(now - paused_since, timedelta(0)) if paused_since else timedelta(0)
    paused_for = timedelta(seconds=state.paused_seconds if state else 0) + running_pause
    due_at = request.due_at + running_pause
    return DeadlineClock(
        now=now,
        due_at=due_at,
        open=is_open,
        paused=is_open and (paused_since is not None or request.status == S.AWAITING_CLARIFICATION),
        paused_since=paused_since,
        paused_for=paused_for,
        time_left=due_at - now if is_open else None,
    )


def preservation_clock(
    request: LegalRequest, state: ReviewState | None, *, now: datetime
) -> PreservationClock | None:
    if request.kind != RequestKind.PRESERVATION:
        return None
    expires_at = (state.preservation_expires_at if state is not None else None) or (
        request.received_at + timedelta(days=preservation_days(request))
    )
    return PreservationClock(
        expires_at=expires_at,
        time_left=expires_at - now,
        in_force=request.status not in PRESERVATION_ENDED_STATES,
        extended=state.preservation_extended if state is not None else False,
        extension_days=preservation_extension_days(request),
    )


def request_clocks(
    request: LegalRequest, *, state: ReviewState | None = None, now: datetime | None = None
) -> RequestClocks:
    """Both clocks of a request at ``now``; reads ``request.review`` unless given ``state``."""
    now = now or timezone.now()
    state = state if state is not None else review_row(request)
    return RequestClocks(
        deadline=deadline_clock(request, state, now=now),
        preservation=preservation_clock(request, state, now=now),
    )


# --- Overdue work ------------------------------------------------------------------------
#
# One definition of "overdue" for the queue, its counts and the home pages. Work is
# overdue when the platform owes the authority something past its time:
#
# - received or in review: the deadline passed (the clock runs);
# - awaiting clarification: the deadline had passed when the question was asked (the
#   clock is stopped, but frozen below zero: the request was already late);
# - approved: nothing was handed to delivery (or the request closed) by the deadline;
#   an approved preservation is also overdue once the preservation lapsed, since what
#   was preserved is no longer held for the authority and the work must be closed.

OVERDUE_STATES: tuple[str, ...] = (
    S.RECEIVED,
    S.IN_REVIEW,
    S.AWAITING_CLARIFICATION,
    S.APPROVED,
)


def overdue_since(
    request: LegalRequest, state: ReviewState | None, *, now: datetime
) -> datetime | None:
    """When the request became overdue work, or ``None`` if it is not (see above)."""
    if request.status in (S.RECEIVED, S.IN_REVIEW):
        return request.due_at if request.due_at < now else None
    if request.status == S.AWAITING_CLARIFICATION:
        # Recorded when the question was asked: the deadline had passed then.
        return request.due_at if request.paused_late else None
    if request.status == S.APPROVED:
        moments = [request.due_at]
        preservation = preservation_clock(request, state, now=now)
        if preservation is not None:
            moments.append(preservation.expires_at)
        passed = [moment for moment in moments if moment < now]
        return min(passed) if passed else None
    return None


def is_overdue(request: LegalRequest, state: ReviewState | None, *, now: datetime) -> bool:
    return overdue_since(request, state, now=now) is not None


def overdue_q(now: datetime) -> Q:
    """The same rule as ``overdue_since``, as a filter on ``LegalRequest`` (one query).

    A preservation's expiry is its review row's, set when the row is created; a row
    without one falls back on the days of the request's jurisdiction, as
    ``preservation_clock`` does.
    """
    branches = overdue_q_by_state(now)
    found = branches[0]
    for branch in branches[1:]:
        found |= branch
    return found


def overdue_q_by_state(now: datetime) -> tuple[Q, Q, Q, Q]:
    """``overdue_q`` in four branches that no request is in two of, each an index range
    of its own (where the whole OR leaves the planner a filtered scan), so that a count
    can stop each after a few entries: running late (received, in review: index
    ``lr_queue_status`` up to now); paused past the deadline (``paused_late``: the
    partial index ``lr_overdue_paused``, nothing else read); approved and past the
    deadline (``lr_queue_status`` again); approved, not yet due, with its preservation
    lapsed (reads only the approved requests not yet due: as many as arrive in a
    deadline's time, whatever the size of the archive)."""
    running = Q(status__in=(S.RECEIVED, S.IN_REVIEW), due_at__lt=now)
    paused_late = Q(status=S.AWAITING_CLARIFICATION, paused_late=True)
    eu = Q(country__in=EVIDENCE_REGULATION_STATES)
    # The review row's expiry as a scalar subquery (NULL without a row, as a LEFT JOIN
    # would give), not a join: the whole rule then reads only the request's own row, so
    # that PostgreSQL takes it as a filter of that table, proves it implies a queue
    # index's condition and walks that index in the page's order (a join in one branch
    # made the rule a join filter: at 1M requests the "due within 48 hours" page sorted
    # every open request instead, 0.9 s). One index probe of the review row per request
    # that reaches this branch (approved preservations); never a hash of every review row.
    expiry = Subquery(
        ReviewState.objects.filter(request_id=OuterRef("pk")).values("preservation_expires_at")[:1]
    )
    default_expiry_passed = Q(IsNull(expiry, True)) & (
        (eu & Q(received_at__lt=now - timedelta(days=EU_PRESERVATION_DAYS)))
        | (~eu & Q(received_at__lt=now - timedelta(days=PRESERVATION_DAYS)))
    )
    preservation_lapsed = Q(kind=RequestKind.PRESERVATION) & (
        Q(LessThan(expiry, Value(now))) | default_expiry_passed
    )
    approved_past_due = Q(status=S.APPROVED, due_at__lt=now)
    approved_lapsed = Q(status=S.APPROVED, due_at__gte=now) & preservation_lapsed
    return running, paused_late, approved_past_due, approved_lapsed


def overdue_text(since: datetime, *, now: datetime) -> str:
    return _("overdue by %(duration)s") % {"duration": duration_text(now - since)}


# --- Extension ---------------------------------------------------------------------------


def preservation_extend(
    *, request: LegalRequest, officer: Officer, reason: str = "", now: datetime | None = None
) -> ReviewState:
    """Extend a preservation once, before it lapses, at the issuing officer's request."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = LegalRequest.objects.select_for_update().get(pk=request.pk)
        if locked.kind != RequestKind.PRESERVATION:
            raise OfficerRefused(_("Only a preservation request can be extended."))
        if locked.officer_id != officer.pk:
            raise OfficerRefused(
                _("Only the officer who submitted the request can extend it."), code="forbidden"
            )
        state = review_state(locked)
        clock = preservation_clock(locked, state, now=now)
        if clock is None or not clock.in_force:
            raise OfficerRefused(_("This request is no longer preserved."))
        if clock.extended:
            raise OfficerRefused(_("This preservation was already extended once."))
        if clock.lapsed:
            raise OfficerRefused(_("This preservation has lapsed; it can no longer be extended."))
        before = clock.expires_at
        after = before + timedelta(days=clock.extension_days)
        state.preservation_expires_at = after
        state.preservation_extended = True
        state.save(update_fields=["preservation_expires_at", "preservation_extended"])
        audit_append(
            actor=officer.user,
            action="preservation.extended",
            target=locked,
            data={
                "reference": locked.reference,
                "before": before.isoformat(),
                "after": after.isoformat(),
                "days": clock.extension_days,
                "reason": reason.strip()[:500],
            },
        )
        notify_on_commit(reviewer_addresses(locked), PRESERVATION_EXTENDED)
    return state


# --- Reminders ---------------------------------------------------------------------------
#
# A reminder is sent once per deadline (or expiry): the audit event recording it is the
# mark. A reminder recorded at or after "the deadline minus the longest lead" covers that
# deadline; when a pause moves the deadline on past it, a new reminder is due. Recording
# takes the request's row lock, so two sweeps running at once remind once.


def _reminded(action: str, moment_field: str, lead: timedelta) -> Exists:
    cutoff = ExpressionWrapper(OuterRef(moment_field) - Value(lead), output_field=DateTimeField())
    return Exists(
        AuditEvent.objects.filter(
            action=action,
            target_type=REQUEST_TARGET_TYPE,
            target_id=Cast(OuterRef("pk"), output_field=CharField()),
            created_at__gte=cutoff,
        )
    )


def _reminded_already(request: LegalRequest, action: str, moment: datetime, lead: timedelta):
    return AuditEvent.objects.filter(
        action=action,
        target_type=REQUEST_TARGET_TYPE,
        target_id=str(request.pk),
        created_at__gte=moment - lead,
    ).exists()


def deadline_reminder_lead(request: LegalRequest) -> timedelta:
    return min(DEADLINE_REMINDER_MAX_LEAD, (request.due_at - request.received_at) / 4)


def _all_reviewers() -> list[str]:
    return sorted(
        User.objects.filter(role=Role.REVIEWER, is_active=True).values_list("email", flat=True)
    )


def deadline_reminder_record(*, request_id: int, now: datetime) -> list[str]:
    """Record that a request's deadline is near; return whom to tell (empty: nothing due)."""
    with transaction.atomic():
        request = LegalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            return []
        clock = deadline_clock(
            request, ReviewState.objects.filter(request_id=request.pk).first(), now=now
        )
        if not clock.open or clock.paused or clock.time_left is None:
            return []
        if clock.time_left > deadline_reminder_lead(request):
            return []
        if _reminded_already(
            request, DEADLINE_REMINDED, request.due_at, DEADLINE_REMINDER_MAX_LEAD
        ):
            return []
        # The reviewer who handles it; nobody does yet, so the whole team hears of it.
        addresses = reviewer_addresses(request) or _all_reviewers()
        audit_append(
            action=DEADLINE_REMINDED,
            target=request,
            data={
                "reference": request.reference,
                "due_at": request.due_at.isoformat(),
                "to": addresses,
            },
        )
    return addresses


def deadline_reminders_send(*, now: datetime | None = None) -> int:
    """Remind reviewers of open requests whose deadline is near or passed, once each.

    Each reviewer receives one email per sweep with a count, not one per request.
    Returns how many requests were reminded of.
    """
    now = now or timezone.now()
    request_ids = list(
        LegalRequest.objects.filter(
            status__in=[S.RECEIVED, S.IN_REVIEW], due_at__lte=now + DEADLINE_REMINDER_MAX_LEAD
        )
        .exclude(_reminded(DEADLINE_REMINDED, "due_at", DEADLINE_REMINDER_MAX_LEAD))
        .order_by("due_at")
        .values_list("pk", flat=True)[:REMINDER_BATCH]
    )
    per_reviewer: Counter[str] = Counter()
    reminded = 0
    for request_id in request_ids:
        addresses = deadline_reminder_record(request_id=request_id, now=now)
        reminded += bool(addresses)
        per_reviewer.update(addresses)
    for address, count in sorted(per_reviewer.items()):
        notify_now([address], deadline_reminder(count))
    return reminded


def preservation_reminder_record(*, request_id: int, now: datetime) -> list[str]:
    """Record that a preservation ends soon; return the officers to tell."""
    with transaction.atomic():
        request = (
            LegalRequest.objects.select_for_update()
            .filter(pk=request_id, kind=RequestKind.PRESERVATION)
            .first()
        )
        if request is None:
            return []
        clock = preservation_clock(request, review_state(request), now=now)
        if clock is None or not clock.ending_soon:
            return []
        if _reminded_already(
            request, PRESERVATION_REMINDED, clock.expires_at, PRESERVATION_REMINDER_LEAD
        ):
            return []
        addresses = authority_addresses(request)
        audit_append(
            action=PRESERVATION_REMINDED,
            target=request,
            data={
                "reference": request.reference,
                "expires_at": clock.expires_at.isoformat(),
                "to": addresses,
            },
        )
    return addresses


def preservation_reminders_send(*, now: datetime | None = None) -> int:
    """Tell officers, once per expiry, that a preservation of theirs ends within a week."""
    now = now or timezone.now()
    alive = [status for status in S.values if status not in PRESERVATION_ENDED_STATES]
    # Intake does not create the review row; the expiry is fixed when it is created.
    for request in LegalRequest.objects.filter(
        kind=RequestKind.PRESERVATION, status__in=alive, review__isnull=True
    )[:REMINDER_BATCH]:
        review_state(request)
    request_ids = list(
        LegalRequest.objects.filter(
            kind=RequestKind.PRESERVATION,
            status__in=alive,
            review__preservation_expires_at__gt=now,
            review__preservation_expires_at__lte=now + PRESERVATION_REMINDER_LEAD,
        )
        .exclude(
            _reminded(
                PRESERVATION_REMINDED, "review__preservation_expires_at", PRESERVATION_REMINDER_LEAD
            )
        )
        .order_by("review__preservation_expires_at")
        .values_list("pk", flat=True)[:REMINDER_BATCH]
    )
    reminded = 0
    for request_id in request_ids:
        addresses = preservation_reminder_record(request_id=request_id, now=now)
        reminded += 1 if addresses else 0
        notify_now(addresses, PRESERVATION_ENDING)
    return reminded
