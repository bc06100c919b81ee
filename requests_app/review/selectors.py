"""Reviewer-side reads of legal requests: the queue, one request, its timeline, its documents.

Every function takes the acting user and answers only an active reviewer of the legal
team. One request is reached through ``request_get_for_reviewer`` alone; anyone else, and
any unknown reference, gets "not found".

The queue stays fast at a million requests because no page load reads more than a page
of rows (plus one bounded count query):

- Pages are keyset-paginated on the sort key; there is no OFFSET and no COUNT(*) of the
  filtered set. A sort is a few "group" columns of few values (emergency, status, kind,
  country) followed by a "tail" of columns in one direction (due date, id). The next page
  is read in phases: the rest of the cursor's group, then the groups after it. Each phase
  is an equality on the group columns and a range on the tail, which a B-tree index on
  (group columns, tail) answers by reading only the rows it returns, on PostgreSQL and
  SQLite alike. A page takes at most one query per group column plus one.
- The counts are bounded: each state's count, and the overdue one, stops at ``COUNT_CAP``
  (shown as "1000+"), so they cost at most ``COUNT_CAP`` index entries each however large
  the table grows (bench/README.md says why not maintained counters). The states are one
  statement, the overdue count another.
"""

import base64
import binascii
import functools
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy
from django_countries.fields import Country

from accounts.models import Agency, Role, User
from portal import crypto
from portal.audit import audit_append
from portal.compiled import compiled_statement, prepared_cursor
from portal.countries import country_name
from portal.models import AuditEvent
from requests_app.lifecycle.clocks import (
    BADGE_LABELS,
    DUE_SOON,
    DeadlineClock,
    deadline_clock,
    duration_text,
    overdue_q,
    overdue_q_by_state,
    overdue_since,
    overdue_text,
    review_row,
)
from requests_app.lifecycle.models import (
    Attachment,
    DataCategory,
    DecisionOutcome,
    LegalRequest,
    Message,
    MessageAttachment,
    RequestKind,
    RequestTarget,
    ReviewState,
)
from requests_app.lifecycle.states import OPEN_STATES
from requests_app.lifecycle.targets import target_search_normalise
from requests_app.review.models import Decision, EmergencyCallback, RejectionReason

S = LegalRequest.Status

# The states in which the platform still owes the authority something, in workflow order.
# The queue shows these unless asked for others; their deadline badges mean something.
WORKING_STATES: tuple[str, ...] = (S.RECEIVED, S.IN_REVIEW, S.AWAITING_CLARIFICATION, S.APPROVED)
# The states whose deadline clock runs (``clocks.deadline_clock``): open, and not paused
# while the authority is asked for clarification. What is overdue is ``clocks.overdue_q``.
CLOCK_RUNNING: tuple[str, ...] = (S.RECEIVED, S.IN_REVIEW)
ARCHIVE_STATES: tuple[str, ...] = (S.REJECTED, S.DISCLOSED, S.CLOSED, S.WITHDRAWN)
PAGE_SIZE = 50
# The archive grows without bound; its counts stop here ("more than 1,000").
COUNT_CAP = 1000


def _is_reviewer(user: Any) -> bool:
    return (
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "role", None) == Role.REVIEWER
        and user.is_active
    )


def _require_reviewer(user: Any) -> None:
    # "Not found" rather than "forbidden": a stranger learns nothing about what exists.
    if not _is_reviewer(user):
        raise Http404("No such request.")


# --- One request -----------------------------------------------------------------------


def request_get_for_reviewer(*, user: User, reference: str) -> LegalRequest:
    """One request, for an active reviewer; anyone else or any unknown reference: 404."""
    _require_reviewer(user)
    found = (
        LegalRequest.objects.select_related(
            "agency", "officer__user", "signing_key", "review__assignee"
        )
        .filter(reference=reference)
        .first()
    )
    if found is None:
        raise Http404("No such request.")
    return found


@dataclass(frozen=True)
class Dossier:
    """Everything the request page shows besides the request row itself."""

    targets: list[Any]
    attachments: list[Attachment]
    messages: list[Message]
    decisions: list["DecisionView"]
    timeline: list["TimelineEntry"]
    categories: list[tuple[str, str]]
    body: dict[str, Any]


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    targets: list[str]
    categories: list[str]
    reason: str


def request_dossier(*, user: User, request: LegalRequest) -> Dossier:
    """The documents, targets, thread, decisions and timeline of a request (five queries).

    The emergency callbacks and hand-overs to delivery are shown by the decision tools
    (``views_actions.review_tools``), which read them for their own rules.
    """
    _require_reviewer(user)
    targets = list(request.targets.all())
    target_text = {t.pk: f"{t.get_type_display()}: {t.value}" for t in targets}
    category_labels = dict(DataCategory.choices)
    decisions = [
        DecisionView(
            decision=decision,
            targets=[target_text.get(pk, f"target #{pk}") for pk in decision.approved_target_ids],
            categories=[str(category_labels.get(c, c)) for c in decision.approved_categories],
            reason=str(dict(RejectionReason.choices).get(decision.reason_code, "")),
        )
        for decision in request.decisions.select_related("proposed_by", "confirmed_by")
    ]
    body = request.payload.get("request") if isinstance(request.payload, dict) else None
    return Dossier(
        targets=targets,
        attachments=list(request.attachments.all()),
        messages=list(request.messages.select_related("author").prefetch_related("documents")),
        decisions=decisions,
        timeline=request_timeline(user=user, request=request),
        categories=[(c, str(category_labels.get(c, c))) for c in request.data_categories],
        body=body if isinstance(body, dict) else {},
    )


# --- The legal clocks ------------------------------------------------------------------
# The deadline and preservation clocks are ``requests_app.lifecycle.clocks``' (one computation for
# reviewers and officers); the page adds the non-disclosure order.


def non_disclosure_until(request: LegalRequest) -> date | None:
    """The end of the request's non-disclosure order, if it has one."""
    review = review_row(request)
    if review is not None and review.non_disclosure_until is not None:
        return review.non_disclosure_until
    # Until a reviewer first touches the request, read the order from what was signed.
    order = (request.payload.get("request") or {}).get("non_disclosure") or {}
    try:
        return date.fromisoformat(order["until"]) if order else None
    except (KeyError, TypeError, ValueError):
        return None


# --- The status timeline ---------------------------------------------------------------

STATUS_LABELS = dict(S.choices)


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    at: datetime
    actor: str
    text: str
    before: str = ""  # status labels, for a change of state
    after: str = ""
    detail: str = ""


def _label(choices: Any, value: Any) -> str:
    """A stored choice's label in the active language; an unknown value as it is."""
    return str(dict(choices.choices).get(str(value or ""), str(value or "").replace("_", " ")))


def _channel_text(data: dict[str, Any]) -> str:
    channel = str(data.get("channel"))
    if channel == "api":
        return gettext("Through the API, signed with %(key)s")
    if channel == "web":
        return gettext("Through the web form, signed with %(key)s")
    return gettext("Through intake, signed with %(key)s")


def _document_text(data: dict[str, Any]) -> str:
    return f"{data.get('filename', '')} (SHA-256 {str(data.get('sha256', ''))[:16]}…)"


# A reviewer read a document: saved as a file, or opened in the request page's viewer.
DOCUMENT_DOWNLOADED = "attachment.downloaded"
DOCUMENT_VIEWED = "document.viewed"

# action -> (what happened, a detail read from the event's data)
TIMELINE_TEXT: dict[str, tuple[str | Promise, Any]] = {
    "legal_request.received": (
        gettext_lazy("Received and verified"),
        lambda d: _channel_text(d) % {"key": d.get("key_id") or gettext("a key")},
    ),
    "legal_request.claim": (gettext_lazy("Claimed for review"), lambda d: d.get("assignee", "")),
    "legal_request.assigned": (gettext_lazy("Assigned to another reviewer"), None),
    "assessment.saved": (gettext_lazy("Checklist saved"), None),
    "legal_request.ask_clarification": (gettext_lazy("Clarification asked of the authority"), None),
    "legal_request.authority_replies": (
        gettext_lazy("The authority answered; the clock runs again"),
        lambda d: (
            gettext("Paused for %(duration)s")
            % {"duration": duration_text(timedelta(seconds=int(d["paused_seconds"])))}
            if d.get("paused_seconds")
            else ""
        ),
    ),
    "legal_request.resume": (gettext_lazy("Review resumed"), None),
    "message.received": (gettext_lazy("Message from the authority"), None),
    "emergency_callback.recorded": (
        gettext_lazy("Emergency callback recorded"),
        lambda d: f"{d.get('number', '')}: {_label(EmergencyCallback.Outcome, d.get('outcome'))}",
    ),
    "decision.proposed": (
        gettext_lazy("Approval proposed, waiting for a second reviewer"),
        lambda d: _label(DecisionOutcome, d.get("outcome")),
    ),
    "legal_request.confirm_approval": (
        gettext_lazy("Approval confirmed by a second reviewer"),
        None,
    ),
    "decision.withdrawn": (gettext_lazy("Proposed approval withdrawn by its proposer"), None),
    "decision.overruled": (gettext_lazy("Proposed approval not confirmed"), None),
    "legal_request.reject": (
        gettext_lazy("Rejected"),
        lambda d: str(dict(RejectionReason.choices).get(d.get("reason", ""), "")),
    ),
    "disclosure.created": (gettext_lazy("Handed to delivery for sealing"), None),
    "legal_request.deliver": (gettext_lazy("Response delivered"), None),
    "legal_request.close": (gettext_lazy("Closed"), None),
    "legal_request.withdraw": (
        gettext_lazy("Withdrawn by the authority"),
        lambda d: d.get("reason", ""),
    ),
    "disclosure.previewed": (gettext_lazy("Records previewed before sealing"), None),
    "disclosure.seal_failed": (gettext_lazy("Sealing the response failed"), None),
    "response.sealed": (gettext_lazy("Response sealed to the authority's keys"), None),
    "response.downloaded": (gettext_lazy("Response downloaded by the authority"), None),
    "response.purged": (gettext_lazy("Sealed response deleted after its retention period"), None),
    "preservation.extended": (gettext_lazy("Preservation extended"), None),
    "request.shared": (gettext_lazy("Shared with a colleague"), None),
    "request.unshared": (gettext_lazy("No longer shared with a colleague"), None),
    "user_notice.due": (gettext_lazy("User notice due"), None),
    "attachment.downloaded": (gettext_lazy("Legal document downloaded"), _document_text),
    DOCUMENT_VIEWED: (gettext_lazy("Legal document opened in the viewer"), _document_text),
}


def _timeline_entry(event: AuditEvent) -> TimelineEntry:
    data = event.data if isinstance(event.data, dict) else {}
    # An action without its own words (a new kind of event) still shows, by its code.
    text, detail = TIMELINE_TEXT.get(
        event.action, (gettext("Recorded: %(action)s") % {"action": event.action}, None)
    )
    before, after = str(data.get("before")), str(data.get("after"))
    is_change = before in STATUS_LABELS and after in STATUS_LABELS
    actor = event.actor.full_name if event.actor is not None else ""
    actor = f"{actor} ({event.actor_label})" if actor else event.actor_label
    return TimelineEntry(
        seq=event.seq,
        at=event.created_at,
        actor=actor,
        text=str(text),
        before=str(STATUS_LABELS[before]) if is_change else "",
        after=str(STATUS_LABELS[after]) if is_change else "",
        detail=str(detail(data) or "") if detail else "",
    )


def request_timeline(*, user: User, request: LegalRequest) -> list[TimelineEntry]:
    """The request's audit events in chain order, in words (states before and after)."""
    _require_reviewer(user)
    events = (
        AuditEvent.objects.filter(
            target_type=LegalRequest._meta.label_lower, target_id=str(request.pk)
        )
        .select_related("actor")
        .order_by("seq")
    )
    return [_timeline_entry(event) for event in events]


# --- The legal documents ---------------------------------------------------------------


class DocumentUnreadable(Exception):
    """A stored legal document does not open, or is not the document intake checked."""


def attachment_plaintext(attachment: Attachment | MessageAttachment) -> File:
    """The document's bytes, decrypted from storage (in memory: documents are bounded by
    INTAKE_MAX_ATTACHMENT_BYTES) and checked against the SHA-256 intake verified.

    A request's legal document, or a document of the authority's signed reply."""
    plain = io.BytesIO()
    try:
        with attachment.file.open("rb") as stored:
            crypto.storage_open(stored, plain)
    except crypto.CryptoError as exc:
        raise DocumentUnreadable(f"Document {attachment.pk} does not open: {exc}") from exc
    if hashlib.sha256(plain.getbuffer()).hexdigest() != attachment.sha256:
        raise DocumentUnreadable(f"Document {attachment.pk} is not the one intake checked.")
    plain.seek(0)
    return File(plain, name=attachment.filename)


def attachment_open_for_reviewer(
    *, user: User, reference: str, attachment_id: int, action: str = DOCUMENT_DOWNLOADED
) -> tuple[Attachment, File]:
    """Open a legal document of a request for a reviewer, and record who read it, and how
    (``action``: downloaded, or ``DOCUMENT_VIEWED`` in the request page's viewer).

    The gatekeeper of the documents: one of *this* request's attachments or 404. The
    file is opened first, so that the audit event (in the chain, on the request's
    timeline) exists exactly when the reviewer gets the bytes.
    """
    request = request_get_for_reviewer(user=user, reference=reference)
    attachment = Attachment.objects.filter(request=request, pk=attachment_id).first()
    if attachment is None:
        raise Http404("No such document.")
    return attachment, _opened_and_recorded(
        user=user, request=request, document=attachment, action=action, attachment_id=attachment.pk
    )


def message_document_open_for_reviewer(
    *, user: User, reference: str, message_id: int, document_id: int
) -> tuple[MessageAttachment, File]:
    """Open a document of the authority's reply for a reviewer, and record who read it.

    One of *this* request's replies' documents, named by its message, or 404; recorded
    like a request's legal document (on the request's timeline).
    """
    request = request_get_for_reviewer(user=user, reference=reference)
    document = MessageAttachment.objects.filter(
        message__request=request, message_id=message_id, pk=document_id
    ).first()
    if document is None:
        raise Http404("No such document.")
    return document, _opened_and_recorded(
        user=user,
        request=request,
        document=document,
        action=DOCUMENT_DOWNLOADED,
        message_id=message_id,
        message_document_id=document.pk,
    )


def _opened_and_recorded(
    *,
    user: User,
    request: LegalRequest,
    document: Attachment | MessageAttachment,
    action: str,
    **ids: int,
) -> File:
    """The document's bytes, opened first, and then the audit event that a reviewer read it
    (so that the event exists exactly when the reviewer gets the bytes)."""
    handle = attachment_plaintext(document)
    try:
        with transaction.atomic():
            audit_append(
                actor=user,
                action=action,
                target=request,
                data={
                    "reference": request.reference,
                    **ids,
                    "filename": document.filename,
                    "sha256": document.sha256,
                },
            )
    except BaseException:
        handle.close()
        raise
    return handle


# --- The queue -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueOrder:
    """A sort of the queue: group columns (equality phases), then a one-direction tail."""

    label: str | Promise
    groups: tuple[tuple[str, bool], ...]  # (field, descending)
    tail: tuple[str, str]  # (field, "id")
    tail_descending: bool = False

    def order_by(self) -> list[str]:
        minus = "-" if self.tail_descending else ""
        return [("-" if desc else "") + name for name, desc in self.groups] + [
            minus + name for name in self.tail
        ]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.groups) + self.tail


URGENCY = ("emergency", True)
QUEUE_ORDERS: dict[str, QueueOrder] = {
    "urgency": QueueOrder(
        gettext_lazy("Most urgent first: emergencies, then by due date"),
        (URGENCY,),
        ("due_at", "id"),
    ),
    "status": QueueOrder(
        gettext_lazy("By state, then most urgent first"),
        (("status", False), URGENCY),
        ("due_at", "id"),
    ),
    "kind": QueueOrder(
        gettext_lazy("By kind, then most urgent first"),
        (("kind", False), URGENCY),
        ("due_at", "id"),
    ),
    "country": QueueOrder(
        gettext_lazy("By country, then most urgent first"),
        (("country", False), URGENCY),
        ("due_at", "id"),
    ),
    "received": QueueOrder(
        gettext_lazy("Newest first"), (), ("received_at", "id"), tail_descending=True
    ),
}
DEFAULT_ORDER = "urgency"
# Where no sort is asked for: the urgent first for open work; for the archive, where
# urgency means nothing, the newest first (an order its indexes also give quickly).
ARCHIVE_ORDER = "received"

DUE_WITHIN: dict[str, str | Promise] = {
    "overdue": gettext_lazy("Overdue"),
    "today": gettext_lazy("Overdue or due today"),
    "48h": gettext_lazy("Overdue or due within 48 hours"),
    "7d": gettext_lazy("Overdue or due within 7 days"),
}


@dataclass(frozen=True)
class QueueFilters:
    """What a reviewer asked the queue for; every field already validated by the form."""

    status: str = ""  # "" the working states, "all", or one state
    kind: str = ""
    country: str = ""
    agency_id: int | None = None
    due: str = ""  # "" or a key of DUE_WITHIN
    assignee: str = ""  # "", "mine", "unassigned", or a reviewer's id
    order: str = ""  # a key of QUEUE_ORDERS, or "" for the usual order of the states shown
    second: bool = False  # only proposals by others, waiting for the viewer's confirmation
    text: str = ""  # a reference, a case reference or part of an agency's name
    target: str = ""  # a target's value, matched exactly once normalised (audited)

    @property
    def searching(self) -> bool:
        return bool(self.text or self.target)

    @property
    def order_key(self) -> str:
        if self.order in QUEUE_ORDERS:
            return self.order
        return DEFAULT_ORDER if self.status in ("", *WORKING_STATES) else ARCHIVE_ORDER


@dataclass(frozen=True)
class QueueRow:
    """One row of the queue, with what the page shows worked out once."""

    request: LegalRequest
    review: ReviewState | None
    deadline: DeadlineClock
    badge: str  # deadline_clock's badge: "overdue", "today", "soon", "paused", ...
    badge_label: str  # translated once a page per badge, like the labels below
    assignee: User | None
    mine: bool  # assigned to the viewer
    claimable: bool  # open, and not already the viewer's
    overdue: bool = False  # clocks.overdue_since: late work, whatever the state
    overdue_text: str = ""
    # In the active language, translated once a page (``get_FOO_display`` translates
    # every choice of the field on each call, to hash them: a page of rows made that
    # hundreds of translations).
    kind_label: str = ""
    status_label: str = ""
    country_name: str = ""


@dataclass(frozen=True)
class StateCount:
    status: str
    label: str
    count: int
    capped: bool = False  # the count stopped at COUNT_CAP


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str
    counts: list[StateCount]
    overdue: int
    first_page: bool
    filters: QueueFilters = field(default_factory=QueueFilters)
    overdue_capped: bool = False  # the overdue count stopped at COUNT_CAP

    @property
    def order(self) -> QueueOrder:
        return QUEUE_ORDERS[self.filters.order_key]


def _end_of_today(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), time.min))


def _filtered(*, user: User, filters: QueueFilters, now: datetime) -> QuerySet[LegalRequest]:
    rows = LegalRequest.objects.all()
    if not filters.status:
        # A search looks through every state unless one is chosen.
        if not filters.searching:
            rows = rows.filter(status__in=WORKING_STATES)
    elif filters.status != "all":
        rows = rows.filter(status=filters.status)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.country:
        rows = rows.filter(country=filters.country)
    if filters.agency_id is not None:
        rows = rows.filter(agency_id=filters.agency_id)
    if filters.due:
        limit = {
            "overdue": now,
            "today": _end_of_today(now),
            "48h": now + DUE_SOON,
            "7d": now + timedelta(days=7),
        }[filters.due]
        # A paused clock is not running out, and an answered request has none; what is
        # already overdue (``clocks.overdue_q``) is in every one of these choices.
        rows = rows.filter(Q(due_at__lt=limit, status__in=CLOCK_RUNNING) | overdue_q(now))
    if filters.second:
        rows = rows.filter(status=S.IN_REVIEW).filter(
            Exists(
                Decision.objects.filter(
                    request_id=OuterRef("pk"), state=Decision.State.PROPOSED
                ).exclude(proposed_by=user)
            )
        )
    if filters.text:
        text = filters.text
        agencies = Agency.objects.filter(name__icontains=text).values("pk")
        rows = rows.filter(
            Q(reference__iexact=text)
            | Q(case_reference__icontains=text)
            | Q(agency_id__in=agencies)
        )
    if filters.target:
        searched = target_search_normalise(filters.target)
        # Both through the index on the value in lower case (``RequestTarget``'s): an
        # email address whatever its case on either side (intake keeps the local part as
        # the authority wrote it, and an API caller may send the domain in capitals),
        # any other value exactly. Both sides are lowered by the database, never by Python.
        targets = RequestTarget.objects.alias(value_lower=Lower("value")).filter(
            request_id=OuterRef("pk"), value_lower=Lower(Value(searched.value))
        )
        if searched.kind != "email":
            targets = targets.filter(value=searched.value)
        rows = rows.filter(Exists(targets))
    # EXISTS rather than a join: the planner then walks the queue's index in order and
    # stops after a page, instead of hashing every review row.
    assigned = ReviewState.objects.filter(request_id=OuterRef("pk"))
    if filters.assignee == "mine":
        rows = rows.filter(Exists(assigned.filter(assignee=user)))
    elif filters.assignee == "unassigned":
        # A request nobody touched has no review row yet: it is unassigned too.
        rows = rows.exclude(Exists(assigned.filter(assignee__isnull=False)))
    elif filters.assignee:
        rows = rows.filter(Exists(assigned.filter(assignee_id=int(filters.assignee))))
    return rows.select_related("agency", "review__assignee").only(
        "reference",
        "status",
        "kind",
        "emergency",
        "country",
        "due_at",
        "received_at",
        "paused_late",
        "agency__name",
        "agency__country",
        "review__paused_since",
        "review__paused_seconds",
        "review__preservation_expires_at",
        "review__preservation_extended",
        "review__assignee__full_name",
        "review__assignee__email",
    )


# Cursor values are read back by type; anything else is not a cursor.
_CURSOR_TYPES: dict[str, type] = {
    "emergency": bool,
    "status": str,
    "kind": str,
    "country": str,
    "due_at": datetime,
    "received_at": datetime,
    "id": int,
}


def _cursor_value(row: LegalRequest, name: str) -> Any:
    value = row.pk if name == "id" else getattr(row, name)
    if name == "country":
        return cast(Country, value).code
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def cursor_encode(order_key: str, row: LegalRequest) -> str:
    values = [order_key, *(_cursor_value(row, name) for name in QUEUE_ORDERS[order_key].fields)]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(order_key: str, cursor: str) -> list[Any] | None:
    """The sort-key values of a cursor made for this order, or ``None`` for anything else."""
    if not cursor or len(cursor) > 400:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        return None
    order = QUEUE_ORDERS[order_key]
    if not isinstance(values, list) or len(values) != len(order.fields) + 1:
        return None
    if values[0] != order_key:
        return None
    decoded: list[Any] = []
    for name, value in zip(order.fields, values[1:], strict=True):
        kind = _CURSOR_TYPES[name]
        if kind is datetime:
            try:
                moment = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                return None
            if moment is None or moment.tzinfo is None:
                return None
            decoded.append(moment)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return None
            decoded.append(value)
        elif kind is bool and isinstance(value, bool):
            decoded.append(value)
        elif kind is str and isinstance(value, str) and len(value) <= 60:
            decoded.append(value)
        else:
            return None
    return decoded


def _tail_after(order: QueueOrder, values: Sequence[Any]) -> Q:
    # (t, id) after (v, i), written so that an index on (.., t, id) bounds the scan:
    # t >= v AND (t > v OR (t = v AND id > i)).
    (name, _id), (value, last_id) = order.tail, values
    strict, loose = ("lt", "lte") if order.tail_descending else ("gt", "gte")
    return Q(**{f"{name}__{loose}": value}) & (
        Q(**{f"{name}__{strict}": value}) | Q(**{name: value, f"id__{strict}": last_id})
    )


def _keyset_page(
    rows: QuerySet[LegalRequest], order: QueueOrder, after: list[Any] | None, limit: int
) -> list[LegalRequest]:
    ordered = rows.order_by(*order.order_by())
    if after is None:
        return list(ordered[:limit])
    group_values = after[: len(order.groups)]
    same = {name: value for (name, _), value in zip(order.groups, group_values, strict=True)}
    found = list(ordered.filter(_tail_after(order, after[len(order.groups) :]), **same)[:limit])
    # Then the groups after the cursor's, innermost first.
    for depth in reversed(range(len(order.groups))):
        if len(found) >= limit:
            break
        name, descending = order.groups[depth]
        outer = {n: v for (n, _), v in zip(order.groups[:depth], group_values, strict=False)}
        beyond = {f"{name}__{'lt' if descending else 'gt'}": group_values[depth]}
        found += list(ordered.filter(**outer, **beyond)[: limit - len(found)])
    return found


def _state_counts(now: datetime) -> tuple[list[StateCount], int]:
    """Counts per state (one statement) and of overdue requests (``overdue_count``), each
    stopping at ``COUNT_CAP``: ``(counts, overdue)``; ``_state_counts_capped`` says whether
    the overdue count stopped."""
    counts, overdue, _ = _state_counts_capped(now)
    return counts, overdue


def _state_counts_capped(now: datetime) -> tuple[list[StateCount], int, bool]:
    """Counts per state and of overdue requests, each counting at most ``COUNT_CAP + 1``
    rows: ``COUNT(*)`` over a ``LIMIT`` subquery, which an index on status (and, for the
    overdue, the working states' partial indexes) answers by reading at most that many
    entries. The cost of the counts does not grow with the table; a count that stopped is
    ``capped`` and shown as "1000+".

    The states' statement is the same text on every page (``_states_sql``): PostgreSQL
    prepares it once per connection (``portal.compiled.prepared_cursor``) and runs the plan
    it made then. Planning it was a third of its time at 1M rows (bench/README.md).
    """
    states = (*WORKING_STATES, *ARCHIVE_STATES)
    with prepared_cursor(connection) as cursor:
        cursor.execute(_states_sql(states, COUNT_CAP + 1))
        numbers = cursor.fetchone()
    counts = []
    for i, state in enumerate(states):
        number = int(numbers[i] or 0)
        counts.append(
            StateCount(state, str(STATUS_LABELS[state]), min(number, COUNT_CAP), number > COUNT_CAP)
        )
    overdue = overdue_count(now, cap=COUNT_CAP + 1)
    return counts, min(overdue, COUNT_CAP), overdue > COUNT_CAP


_STATE_NAME = re.compile(r"[a-z_]{1,40}")


@functools.cache
def _states_sql(states: tuple[str, ...], cap: int) -> str:
    """One statement counting the rows of each state, at most ``cap`` of each.

    It has no parameters: the states and the cap are the code's constants, written into
    it, so that PostgreSQL plans it once for every page. (A ``status = $1 LIMIT $2`` kept
    PostgreSQL planning it afresh each time: a plan for any state and any limit looked
    dearer to it than one for the given ones.) Only the model's names and these constants
    go into the SQL, each checked to be what it must be.
    """
    if not all(_STATE_NAME.fullmatch(state) for state in states) or type(cap) is not int:
        raise ValueError("the states' names and the cap are constants of the code")
    quote = connection.ops.quote_name
    table = quote(LegalRequest._meta.db_table)
    status = quote(str(LegalRequest._meta.get_field("status").column))
    parts = [
        # The table's and column's names are the model's; the values are checked above.
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {status} = '{state}' "  # noqa: S608 (checked above)
        f"LIMIT {cap}) AS c)"
        for state in states
    ]
    return "SELECT " + ", ".join(parts)


def overdue_count(now: datetime, *, cap: int | None = None) -> int:
    """How many requests are overdue work (``clocks.overdue_q``): the queue's and the home
    page's number. With ``cap``, counting stops there (``COUNT(*)`` over a ``LIMIT``)."""
    if cap is None:
        return LegalRequest.objects.filter(overdue_q(now)).count()
    sql, params = _overdue_statement(now, cap)
    # Not prepared: PostgreSQL plans it for each moment. A plan made once for any moment
    # reads every overdue-looking row: 84 ms at 1M rows where each moment's plan takes 1.
    with connection.cursor() as cursor:
        # Django's SQL (``_overdue_sql``); every value is a parameter.
        cursor.execute(sql, params)
        (found,) = cursor.fetchone()
    return min(int(found), cap)


def _overdue_sql(now: datetime, cap: int) -> tuple[str, list[Any]]:
    """The capped overdue count's statement and its parameters at ``now``.

    One statement, one bounded subquery per branch of the rule (no request is in two, so
    none is counted twice): each an index range the planner sees at once, where the whole
    OR cost it far more to plan than to run. No ordering: any rows will do."""
    parts: list[str] = []
    params: list[Any] = []
    for branch in overdue_q_by_state(now):
        rows = LegalRequest.objects.filter(branch).order_by().values("pk")[:cap]
        sql, branch_params = rows.query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS branch)")  # noqa: S608 (Django's SQL)
        params += branch_params
    return "SELECT " + " + ".join(parts), params  # noqa: S608 (Django's SQL)


def _overdue_statement(now: datetime, cap: int) -> tuple[str, list[Any]]:
    """``_overdue_sql(now, cap)``, from the statement compiled once per process and cap
    (``portal.compiled``): each parameter ``now`` plus a fixed offset, or a constant.
    Building and compiling the four branches' querysets on every page cost more CPU than
    running the statement (bench/README.md)."""
    return compiled_statement(
        ("review.overdue_count", cap), functools.partial(_overdue_sql, cap=cap), {"now": now}
    )


def _queue_rows(found: list[LegalRequest], *, user: User, now: datetime) -> list[QueueRow]:
    kinds = {value: str(label) for value, label in RequestKind.choices}
    states = {value: str(label) for value, label in S.choices}
    badge_labels: dict[str, str] = {}
    rows = []
    for request in found:
        code = cast(Country, request.country).code
        review = review_row(request)
        clock = deadline_clock(request, review, now=now)
        badge = clock.badge
        if badge not in badge_labels:
            badge_labels[badge] = str(BADGE_LABELS.get(badge, ""))
        late = overdue_since(request, review, now=now)
        assignee = review.assignee if review is not None else None
        mine = assignee is not None and assignee.pk == user.pk
        rows.append(
            QueueRow(
                request=request,
                review=review,
                deadline=clock,
                badge=badge,
                badge_label=badge_labels[badge],
                assignee=assignee,
                mine=mine,
                claimable=request.status in OPEN_STATES and not mine,
                overdue=late is not None,
                overdue_text=overdue_text(late, now=now) if late is not None else "",
                kind_label=kinds.get(request.kind, request.kind),
                status_label=states.get(request.status, request.status),
                country_name=country_name(code),
            )
        )
    return rows


def request_queue(
    *,
    user: User,
    filters: QueueFilters,
    cursor: str = "",
    now: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the review queue, its cursor to the next, and the counts per state."""
    if not _is_reviewer(user):
        raise Http404("No such page.")
    now = now or timezone.now()
    order_key = filters.order_key
    order = QUEUE_ORDERS[order_key]
    after = cursor_decode(order_key, cursor)
    found = _keyset_page(
        _filtered(user=user, filters=filters, now=now), order, after, page_size + 1
    )
    more, found = len(found) > page_size, found[:page_size]
    if filters.target:
        target_search_record(user=user, value=filters.target, found=len(found), more=more)
    rows = _queue_rows(found, user=user, now=now)
    counts, overdue, overdue_capped = _state_counts_capped(now)
    return QueuePage(
        rows=rows,
        next_cursor=cursor_encode(order_key, found[-1]) if more else "",
        counts=counts,
        overdue=overdue,
        overdue_capped=overdue_capped,
        first_page=after is None,
        filters=filters,
    )


# --- Searching by a target's value ------------------------------------------------------

TARGET_SEARCHED = "review.target_searched"
_TARGET_DIGEST_SALT = "requests_app.review.target_search"


def target_search_digest(value: str) -> str:
    """The keyed digest of a searched target value (normalised first), as the audit keeps it.

    Keyed with the portal's SECRET_KEY (Django's ``salted_hmac``, SHA-256): anyone reading
    the audit log alone cannot recover a phone number by hashing every possible one, and an
    auditor who has a value asks the portal for its digest and finds every search for it.
    """
    normalised = target_search_normalise(value).value
    return salted_hmac(_TARGET_DIGEST_SALT, normalised, algorithm="sha256").hexdigest()


def target_search_record(*, user: User, value: str, found: int, more: bool) -> AuditEvent:
    """Record a reviewer's search for a person's identifier: a sensitive read.

    The audit keeps who searched, what kind of value (phone, email, identifier), its
    keyed digest and how many requests it found, never the value: a search may be for
    someone who is in no request at all (the log must not become a list of people a
    reviewer looked for), and the append-only log could never forget it.
    """
    normalised = target_search_normalise(value)
    with transaction.atomic():
        return audit_append(
            actor=user,
            action=TARGET_SEARCHED,
            data={
                "kind": normalised.kind,
                "digest": target_search_digest(value),
                "found": found,
                "more": more,
            },
        )


@dataclass(frozen=True)
class QueueOptions:
    """The choices of the queue's filters, as plain values (hundreds of agencies)."""

    agencies: list[tuple[int, str, str]]  # (id, name, country code)
    reviewers: list[tuple[int, str]]  # (id, full name)

    @property
    def countries(self) -> list[tuple[str, str]]:
        """(code, name) of every country an agency is in, by name."""
        codes = {code for _, _, code in self.agencies}
        return sorted(((code, country_name(code)) for code in codes), key=lambda c: c[1])


def queue_options(*, user: User) -> QueueOptions:
    """Every agency that may have sent a request, and every active reviewer (two queries)."""
    if not _is_reviewer(user):
        raise Http404("No such page.")
    return QueueOptions(
        agencies=list(
            Agency.objects.exclude(status=Agency.Status.PENDING)
            .order_by("name", "pk")
            .values_list("pk", "name", "country")
        ),
        reviewers=list(
            User.objects.filter(role=Role.REVIEWER, is_active=True)
            .order_by("full_name", "pk")
            .values_list("pk", "full_name")
        ),
    )


# --- The reviewer's home page ----------------------------------------------------------


@dataclass(frozen=True)
class WorkList:
    """One list of the home page: the first rows of a queue filter, and its full count."""

    key: str
    filters: QueueFilters
    query: dict[str, str]  # the queue's address for the same list (its GET parameters)
    count: int
    rows: list[QueueRow]


HOME_ROWS = 10
# key -> (the queue's GET parameters, the same filters): the home page and the queue read
# each list through ``_filtered``, so the two numbers cannot differ.
HOME_LISTS: dict[str, tuple[dict[str, str], QueueFilters]] = {
    "emergencies": ({"kind": "emergency"}, QueueFilters(kind="emergency")),
    "mine": ({"assignee": "mine"}, QueueFilters(assignee="mine")),
    "overdue": ({"due": "overdue"}, QueueFilters(due="overdue")),
    "second": ({"second": "1"}, QueueFilters(second=True)),
    "unassigned": ({"assignee": "unassigned"}, QueueFilters(assignee="unassigned")),
}


def reviewer_home(*, user: User, now: datetime | None = None) -> list[WorkList]:
    """The reviewer's work lists, each as the queue would show it (two queries a list)."""
    if not _is_reviewer(user):
        raise Http404("No such page.")
    now = now or timezone.now()
    lists = []
    for key, (query, filters) in HOME_LISTS.items():
        rows = _filtered(user=user, filters=filters, now=now)
        order = QUEUE_ORDERS[filters.order_key]
        found = _keyset_page(rows, order, None, HOME_ROWS)
        lists.append(
            WorkList(
                key=key,
                filters=filters,
                query=query,
                count=rows.count(),
                rows=_queue_rows(found, user=user, now=now),
            )
        )
    return lists
