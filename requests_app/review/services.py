"""Reviewers' decisions on legal requests: claim, assess, clarify, decide, hand to delivery.

Every function is one transaction that locks the request row, checks the transition
against ``states.TRANSITIONS``, and writes its audit event with before and after.
Side effects (emails) leave on commit. Approvals take two reviewers; emergencies need a
confirmed callback to the agency's number on file before an approval is confirmed.
"""

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Officer, Role, User
from portal.audit import audit_append
from portal.models import AuditEvent

if TYPE_CHECKING:
    from requests_app.delivery.models import Disclosure

from requests_app.delivery.handover import (
    decision_handed_over,
    disclosure_hand_over,
    sealing_pending,
)
from requests_app.lifecycle.models import LegalRequest, Message, ReviewState
from requests_app.lifecycle.notify import REQUEST_UPDATED, authority_addresses, notify_on_commit
from requests_app.lifecycle.states import (  # noqa: F401  (review_state re-exported)
    OPEN_STATES,
    TransitionRefused,
    next_state,
    review_state,
)
from requests_app.review.models import (
    Assessment,
    AssessmentItem,
    Decision,
    EmergencyCallback,
    RejectionReason,
)


class ReviewRefused(Exception):
    """A review action that the rules do not allow; the message says why."""


def _require_reviewer(user: User) -> None:
    if user.role != Role.REVIEWER or not user.is_active:
        raise ReviewRefused(_("Only reviewers of the platform's legal team may do this."))


def _require_open(request: LegalRequest) -> None:
    if request.status not in OPEN_STATES:
        raise ReviewRefused(
            _("A request that is %(state)s is no longer worked on.")
            % {"state": request.get_status_display().lower()}
        )


def _lock(request: LegalRequest) -> LegalRequest:
    return LegalRequest.objects.select_for_update().get(pk=request.pk)


def _transition(
    request: LegalRequest, action: str, actor: User, *, also: tuple[str, ...] = (), **data: Any
) -> str:
    """Move the request to its next state (saving ``also`` with it) and audit the change."""
    before = request.status
    try:
        after = next_state(before, action)
    except TransitionRefused as refused:
        raise ReviewRefused(str(refused)) from None
    request.status = after
    request.save(update_fields=["status", *also])
    audit_append(
        actor=actor,
        action=f"legal_request.{action}",
        target=request,
        data={"reference": request.reference, "before": before, "after": after, **data},
    )
    return after


def _notify_officer(request: LegalRequest) -> None:
    """Tell the requesting officer (and colleagues it is shared with) that something needs
    them, once the transaction commits; the email carries no content (officer/notify.py)."""
    notify_on_commit(authority_addresses(request), REQUEST_UPDATED)


def request_claim(*, request: LegalRequest, reviewer: User) -> LegalRequest:
    """Take a request: it is assigned to the reviewer and, if new, enters review."""
    return request_assign(request=request, reviewer=reviewer, assignee=reviewer)


def request_assign(*, request: LegalRequest, reviewer: User, assignee: User) -> LegalRequest:
    """Give a request to a colleague of the legal team."""
    _require_reviewer(reviewer)
    _require_reviewer(assignee)
    with transaction.atomic():
        locked = _lock(request)
        _require_open(locked)
        state = review_state(locked)
        before = state.assignee_id
        state.assignee = assignee
        state.assigned_at = timezone.now()
        state.save(update_fields=["assignee", "assigned_at"])
        if locked.status == LegalRequest.Status.RECEIVED:
            _transition(locked, "claim", reviewer, assignee=assignee.email)
        else:
            audit_append(
                actor=reviewer,
                action="legal_request.assigned",
                target=locked,
                data={"reference": locked.reference, "before": before, "after": assignee.pk},
            )
    return locked


def assessment_save(
    *, request: LegalRequest, reviewer: User, items: dict[str, dict[str, Any]]
) -> Assessment:
    """Record the checklist: each item judged ok or not, with a note."""
    _require_reviewer(reviewer)
    unknown = set(items) - set(AssessmentItem.values)
    if unknown:
        raise ReviewRefused(
            _("Unknown checklist items: %(items)s.") % {"items": ", ".join(sorted(unknown))}
        )
    clean = {
        key: {"ok": value.get("ok"), "note": str(value.get("note") or "")[:2000]}
        for key, value in items.items()
    }
    with transaction.atomic():
        locked = _lock(request)
        if locked.status != LegalRequest.Status.IN_REVIEW:
            raise ReviewRefused(_("Only a request in review is assessed."))
        assessment, _created = Assessment.objects.select_for_update().get_or_create(
            request=locked, defaults={"updated_by": reviewer, "items": {}}
        )
        before = assessment.items
        assessment.items = {**before, **clean}
        assessment.updated_by = reviewer
        assessment.updated_at = timezone.now()
        assessment.save()
        audit_append(
            actor=reviewer,
            action="assessment.saved",
            target=locked,
            data={"reference": locked.reference, "before": before, "after": assessment.items},
        )
    return assessment


def clarification_ask(*, request: LegalRequest, reviewer: User, body: str) -> Message:
    """Ask the authority a question; the deadline clock stops until it answers."""
    _require_reviewer(reviewer)
    if not body.strip():
        raise ReviewRefused(_("Write the question for the authority."))
    with transaction.atomic():
        locked = _lock(request)
        message = Message.objects.create(
            request=locked, side=Message.Side.PLATFORM, author=reviewer, body=body.strip()
        )
        state = review_state(locked)
        state.paused_since = timezone.now()
        state.save(update_fields=["paused_since"])
        # Asked after the deadline: overdue work while it waits (lifecycle.clocks).
        locked.paused_late = locked.due_at < state.paused_since
        _transition(
            locked, "ask_clarification", reviewer, also=("paused_late",), message_id=message.pk
        )
        _notify_officer(locked)
    return message


def _resume_clock(request: LegalRequest, state: ReviewState) -> int:
    """Add the paused time to the deadline; return the seconds added."""
    if state.paused_since is None:
        if request.paused_late:
            request.paused_late = False
            request.save(update_fields=["paused_late"])
        return 0
    paused = int((timezone.now() - state.paused_since).total_seconds())
    state.paused_seconds += paused
    state.paused_since = None
    state.save(update_fields=["paused_seconds", "paused_since"])
    request.due_at = request.due_at + timedelta(seconds=paused)
    request.paused_late = False
    request.save(update_fields=["due_at", "paused_late"])
    return paused


def message_from_authority(
    *,
    request: LegalRequest,
    officer: Officer,
    body: str,
    provenance: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
) -> Message:
    """The authority writes in the thread; an awaited answer restarts the clock.

    ``provenance``: a signed reply's fields of ``Message`` (PROTOCOL §4.5); ``audit``:
    what its audit event adds (the key, the payload's hash, the documents).
    """
    if not body.strip():
        raise ReviewRefused(_("Write your message."))
    with transaction.atomic():
        locked = _lock(request)
        if locked.status in (LegalRequest.Status.CLOSED, LegalRequest.Status.WITHDRAWN):
            raise ReviewRefused(_("This request is closed."))
        message = Message.objects.create(
            request=locked,
            side=Message.Side.AUTHORITY,
            author=officer.user,
            body=body.strip(),
            **(provenance or {}),
        )
        if locked.status == LegalRequest.Status.AWAITING_CLARIFICATION:
            paused = _resume_clock(locked, review_state(locked))
            _transition(
                locked,
                "authority_replies",
                officer.user,
                message_id=message.pk,
                paused_seconds=paused,
                due_at=locked.due_at.isoformat(),
                **(audit or {}),
            )
        else:
            audit_append(
                actor=officer.user,
                action="message.received",
                target=locked,
                data={"reference": locked.reference, "message_id": message.pk, **(audit or {})},
            )
    return message


def _reason(note: str) -> str:
    reason = note.strip()[:2000]
    if not reason:
        raise ReviewRefused(_("Say why; the reason is kept in the request's history."))
    return reason


def clarification_resume(*, request: LegalRequest, reviewer: User, note: str) -> LegalRequest:
    """Resume review without the authority's answer (it came another way); the clock runs.

    ``note`` says why, and is kept in the audit event of the transition.
    """
    _require_reviewer(reviewer)
    reason = _reason(note)
    with transaction.atomic():
        locked = _lock(request)
        if locked.status != LegalRequest.Status.AWAITING_CLARIFICATION:
            raise ReviewRefused(_("Only a request awaiting clarification is resumed."))
        paused = _resume_clock(locked, review_state(locked))
        _transition(
            locked,
            "resume",
            reviewer,
            paused_seconds=paused,
            due_at=locked.due_at.isoformat(),
            note=reason,
        )
    return locked


def emergency_callback_record(
    *, request: LegalRequest, reviewer: User, outcome: str, note: str = ""
) -> EmergencyCallback:
    """Record a call to the agency's number on file (the number is copied, not typed)."""
    _require_reviewer(reviewer)
    if outcome not in EmergencyCallback.Outcome.values:
        raise ReviewRefused(_("Choose the outcome of the call."))
    with transaction.atomic():
        locked = _lock(request)
        callback = EmergencyCallback.objects.create(
            request=locked,
            number_called=locked.agency.callback_phone,
            called_by=reviewer,
            outcome=outcome,
            note=note.strip(),
        )
        audit_append(
            actor=reviewer,
            action="emergency_callback.recorded",
            target=locked,
            data={
                "reference": locked.reference,
                "number": callback.number_called,
                "outcome": outcome,
            },
        )
    return callback


def _scope_within_request(
    request: LegalRequest,
    target_ids: list[int],
    categories: list[str],
    period_from: date | None,
    period_to: date | None,
) -> None:
    asked_targets = set(request.targets.values_list("pk", flat=True))
    if not target_ids or not set(target_ids) <= asked_targets:
        raise ReviewRefused(_("The approved targets must be among those the authority named."))
    if not categories or not set(categories) <= set(request.data_categories):
        raise ReviewRefused(
            _("The approved categories must be among those the authority asked for.")
        )
    if period_from is None or period_to is None or period_from > period_to:
        raise ReviewRefused(_("Give the approved period."))
    if request.period_from and period_from < request.period_from:
        raise ReviewRefused(_("The approved period cannot start before the asked period."))
    if request.period_to and period_to > request.period_to:
        raise ReviewRefused(_("The approved period cannot end after the asked period."))


def decision_propose_approval(
    *,
    request: LegalRequest,
    reviewer: User,
    target_ids: list[int],
    categories: list[str],
    period_from: date | None,
    period_to: date | None,
    message: str = "",
    note: str = "",
) -> Decision:
    """Propose to approve in full or in part; a second reviewer must confirm."""
    _require_reviewer(reviewer)
    with transaction.atomic():
        locked = _lock(request)
        if locked.status != LegalRequest.Status.IN_REVIEW:
            raise ReviewRefused(_("Only a request in review can be approved."))
        assessment = Assessment.objects.filter(request=locked).first()
        if assessment is None or not assessment.all_ok:
            raise ReviewRefused(
                _("Complete the checklist, every item satisfied, before approving.")
            )
        _scope_within_request(locked, target_ids, categories, period_from, period_to)
        if locked.decisions.filter(state=Decision.State.PROPOSED).exists():
            raise ReviewRefused(_("A proposed decision is already waiting for a second reviewer."))
        full = (
            set(target_ids) == set(locked.targets.values_list("pk", flat=True))
            and set(categories) == set(locked.data_categories)
            and period_from == locked.period_from
            and period_to == locked.period_to
        )
        decision = Decision.objects.create(
            request=locked,
            outcome=Decision.Outcome.APPROVE_FULL if full else Decision.Outcome.APPROVE_PARTIAL,
            proposed_by=reviewer,
            approved_target_ids=sorted(target_ids),
            approved_categories=sorted(categories),
            approved_period_from=period_from,
            approved_period_to=period_to,
            message_to_authority=message.strip(),
            internal_note=note.strip(),
        )
        audit_append(
            actor=reviewer,
            action="decision.proposed",
            target=locked,
            data={
                "reference": locked.reference,
                "decision_id": decision.pk,
                "outcome": decision.outcome,
                "targets": decision.approved_target_ids,
                "categories": decision.approved_categories,
                "period": [str(period_from), str(period_to)],
            },
        )
    return decision


def assessment_save_and_propose(
    *,
    request: LegalRequest,
    reviewer: User,
    items: dict[str, dict[str, Any]],
    proposal: dict[str, Any] | None,
) -> tuple[Assessment, Decision | None]:
    """Save the checklist and, if ``proposal`` is given, propose it: one transaction.

    The proposal needs every item satisfied (``decision_propose_approval``'s rule); when
    it is refused, the checklist is not saved either, so a refusal changes nothing.
    """
    with transaction.atomic():
        assessment = assessment_save(request=request, reviewer=reviewer, items=items)
        if proposal is None:
            return assessment, None
        decision = decision_propose_approval(request=request, reviewer=reviewer, **proposal)
    return assessment, decision


def disclosure_previewed(*, decision: Decision, user: User) -> bool:
    """Whether ``user`` was shown the records of ``decision`` (a ``disclosure.previewed`` event)."""
    return AuditEvent.objects.filter(
        action="disclosure.previewed",
        target_type=LegalRequest._meta.label_lower,
        target_id=str(decision.request_id),
        actor=user,
        data__decision_id=decision.pk,
    ).exists()


def decision_confirm(*, decision: Decision, reviewer: User) -> Decision:
    """The second reviewer confirms a proposed approval: the request is approved.

    The second reviewer confirms what they saw: they must have previewed the records
    this decision discloses (``review.disclosure.disclosure_preview`` with them as viewer).
    """
    _require_reviewer(reviewer)
    with transaction.atomic():
        locked = _lock(decision.request)
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        if decision.state != Decision.State.PROPOSED:
            raise ReviewRefused(_("This decision is not waiting for confirmation."))
        if decision.proposed_by_id == reviewer.pk:
            raise ReviewRefused(
                _("A second reviewer must confirm: nobody approves their own decision.")
            )
        if not disclosure_previewed(decision=decision, user=reviewer):
            raise ReviewRefused(
                _("Look at the records this approval would disclose before confirming it.")
            )
        if (
            locked.emergency
            and not locked.emergency_callbacks.filter(
                outcome=EmergencyCallback.Outcome.CONFIRMED,
                number_called=locked.agency.callback_phone,
            ).exists()
        ):
            raise ReviewRefused(
                _("An emergency needs a confirmed callback to the agency's number on file first.")
            )
        decision.state = Decision.State.CONFIRMED
        decision.confirmed_by = reviewer
        decision.confirmed_at = timezone.now()
        decision.save(update_fields=["state", "confirmed_by", "confirmed_at"])
        state = review_state(locked)
        state.decided_at = decision.confirmed_at
        state.save(update_fields=["decided_at"])
        _transition(
            locked,
            "confirm_approval",
            reviewer,
            decision_id=decision.pk,
            proposed_by=decision.proposed_by_id,
        )
        _notify_officer(locked)
    return decision


def decision_send_back(*, decision: Decision, reviewer: User, note: str) -> Decision:
    """The second reviewer does not confirm: the proposal is set aside with a note."""
    _require_reviewer(reviewer)
    if not note.strip():
        raise ReviewRefused(_("Say why the proposal is not confirmed."))
    with transaction.atomic():
        _lock(decision.request)
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        if decision.state != Decision.State.PROPOSED:
            raise ReviewRefused(_("This decision is not waiting for confirmation."))
        if decision.proposed_by_id == reviewer.pk:
            decision.state = Decision.State.WITHDRAWN
        else:
            decision.state = Decision.State.OVERRULED
        decision.confirmed_by = reviewer
        decision.confirmed_at = timezone.now()
        decision.internal_note = (decision.internal_note + "\n" + note.strip()).strip()
        decision.save(update_fields=["state", "confirmed_by", "confirmed_at", "internal_note"])
        audit_append(
            actor=reviewer,
            action=f"decision.{decision.state}",
            target=decision.request,
            data={
                "reference": decision.request.reference,
                "decision_id": decision.pk,
                "note": note.strip(),
            },
        )
    return decision


def decision_reject(
    *, request: LegalRequest, reviewer: User, reason_code: str, message: str, note: str = ""
) -> Decision:
    """Reject with a reason code and a message the authority reads."""
    _require_reviewer(reviewer)
    if reason_code not in RejectionReason.values:
        raise ReviewRefused(_("Choose a reason for the rejection."))
    if not message.strip():
        raise ReviewRefused(_("Write the message the authority will read."))
    with transaction.atomic():
        locked = _lock(request)
        decision = Decision.objects.create(
            request=locked,
            outcome=Decision.Outcome.REJECT,
            state=Decision.State.CONFIRMED,
            proposed_by=reviewer,
            confirmed_by=reviewer,
            confirmed_at=timezone.now(),
            reason_code=reason_code,
            message_to_authority=message.strip(),
            internal_note=note.strip(),
        )
        locked.decisions.filter(state=Decision.State.PROPOSED).update(
            state=Decision.State.WITHDRAWN
        )
        state = review_state(locked)
        state.decided_at = decision.confirmed_at
        state.save(update_fields=["decided_at"])
        _transition(locked, "reject", reviewer, decision_id=decision.pk, reason=reason_code)
        _notify_officer(locked)
    return decision


def disclosure_create(*, decision: Decision, reviewer: User, note: str = "") -> "Disclosure":
    """Hand a confirmed approval to delivery: sealing runs in a task after commit."""
    _require_reviewer(reviewer)
    with transaction.atomic():
        locked = _lock(decision.request)
        decision = Decision.objects.select_for_update().get(pk=decision.pk)
        if locked.status != LegalRequest.Status.APPROVED:
            raise ReviewRefused(_("Only an approved request is disclosed."))
        if (
            decision.state != Decision.State.CONFIRMED
            or decision.outcome == Decision.Outcome.REJECT
        ):
            raise ReviewRefused(_("Only a confirmed approval is disclosed."))
        if decision_handed_over(decision):
            raise ReviewRefused(_("This approval was already handed to delivery."))
        disclosure = disclosure_hand_over(
            request=locked, decision=decision, reviewer=reviewer, note=note.strip()
        )
        audit_append(
            actor=reviewer,
            action="disclosure.created",
            target=locked,
            data={
                "reference": locked.reference,
                "disclosure_id": disclosure.pk,
                "decision_id": decision.pk,
            },
        )
    return disclosure


def request_close(*, request: LegalRequest, reviewer: User, note: str) -> LegalRequest:
    """Close a request the platform is done with (approved, rejected or disclosed).

    ``note`` says why, and is kept in the audit event of the transition.
    """
    _require_reviewer(reviewer)
    reason = _reason(note)
    with transaction.atomic():
        locked = _lock(request)
        if sealing_pending(locked):
            raise ReviewRefused(_("A response is still being sealed; close it once delivered."))
        state = review_state(locked)
        _transition(locked, "close", reviewer, note=reason)
        state.closed_at = timezone.now()
        state.save(update_fields=["closed_at"])
    return locked


def request_withdraw(*, request: LegalRequest, officer: Officer, reason: str = "") -> LegalRequest:
    """The authority withdraws its request."""
    with transaction.atomic():
        locked = _lock(request)
        _transition(locked, "withdraw", officer.user, reason=reason.strip()[:500])
        locked.decisions.filter(state=Decision.State.PROPOSED).update(
            state=Decision.State.WITHDRAWN
        )
    return locked
