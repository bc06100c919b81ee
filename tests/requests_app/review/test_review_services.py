"""The review services, called directly: the state table row by row, the refusals, the
exact audit trail, the legal clocks and the rules of the four eyes and of the scope."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pyrage
import pytest
from django.utils import timezone

from accounts.models import AgeRecipient, KeyStatus, Role
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.models import LegalRequest, Message, ReviewState
from requests_app.lifecycle.states import TRANSITIONS, TransitionRefused, next_state
from requests_app.review import services
from requests_app.review.disclosure import disclosure_preview
from requests_app.review.models import AssessmentItem, Decision, EmergencyCallback
from requests_app.review.services import ReviewRefused
from tests.audit_marks import audit_mark
from tests.factories import make_agency, make_officer, make_user
from tests.requests_app.factories import make_legal_request

pytestmark = pytest.mark.django_db

S = LegalRequest.Status
ASKED_FROM, ASKED_TO = date(2026, 1, 1), date(2026, 3, 31)


def make_request(
    *,
    targets=(("username", "suspect_one"), ("user_id", "900002")),
    categories=("subscriber_info", "ip_addresses"),
    **fields,
) -> LegalRequest:
    """A request in state received (asked period 2026-01-01 to 2026-03-31), two targets."""
    return make_legal_request(targets=list(targets), data_categories=list(categories), **fields)


ALL_OK = {item.value: {"ok": True, "note": ""} for item in AssessmentItem}


def reviewers():
    return make_user(role=Role.REVIEWER), make_user(role=Role.REVIEWER)


def approval_scope(request: LegalRequest) -> dict:
    return {
        "target_ids": list(request.targets.values_list("pk", flat=True)),
        "categories": list(request.data_categories),
        "period_from": request.period_from,
        "period_to": request.period_to,
    }


def propose(request: LegalRequest, reviewer, **scope) -> Decision:
    """Assess every item satisfied and propose an approval (the whole request by default)."""
    services.assessment_save(request=request, reviewer=reviewer, items=ALL_OK)
    return services.decision_propose_approval(
        request=request, reviewer=reviewer, **{**approval_scope(request), **scope}
    )


def fresh(request: LegalRequest) -> LegalRequest:
    return LegalRequest.objects.get(pk=request.pk)


def events_after(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: ``clock.now`` is what ``timezone.now()`` answers."""

    class Clock:
        now = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

        def advance(self, **delta: float) -> None:
            self.now += timedelta(**delta)

    moving = Clock()
    monkeypatch.setattr(timezone, "now", lambda: moving.now)
    return moving


# --- Bringing a request to each state through the services ---------------------------------


def confirm(decision, reviewer):
    """The second reviewer looks at the records (audited), then confirms what they saw."""
    disclosure_preview(decision=decision, viewer=reviewer)
    return services.decision_confirm(decision=decision, reviewer=reviewer)


def to_in_review(request, a, b):
    services.request_claim(request=request, reviewer=a)


def to_awaiting(request, a, b):
    to_in_review(request, a, b)
    services.clarification_ask(request=request, reviewer=a, body="Which account exactly?")


def to_approved(request, a, b):
    to_in_review(request, a, b)
    decision = propose(request, a)
    confirm(decision, b)


def to_rejected(request, a, b):
    to_in_review(request, a, b)
    services.decision_reject(
        request=request, reviewer=a, reason_code="incomplete", message="The order is missing."
    )


def to_disclosed(request, a, b):
    to_approved(request, a, b)
    deliver(request, a, b)


BRING_TO: dict[str, Callable] = {
    S.RECEIVED: lambda request, a, b: None,
    S.IN_REVIEW: to_in_review,
    S.AWAITING_CLARIFICATION: to_awaiting,
    S.APPROVED: to_approved,
    S.REJECTED: to_rejected,
    S.DISCLOSED: to_disclosed,
}


def deliver(request, a, b):
    """Hand the confirmed approval to delivery and seal it (what the Celery task runs)."""
    from requests_app.delivery.sealing import response_seal

    AgeRecipient.objects.get_or_create(
        officer=request.officer,
        defaults={
            "recipient": str(pyrage.x25519.Identity.generate().to_public()),
            "status": KeyStatus.ACTIVE,
        },
    )
    decision = request.decisions.get(state=Decision.State.CONFIRMED)
    disclosure = services.disclosure_create(decision=decision, reviewer=b)
    response_seal(disclosure_id=disclosure.pk)


def _service(name: str) -> Callable:
    found = getattr(services, name, None)
    if found is None:
        pytest.skip(f"no review service performs this transition yet (services.{name})")
    return found


# Each action of the table, performed by the service that owns it: (perform, audit action).
PERFORM: dict[str, tuple[Callable, str]] = {
    "claim": (lambda r, a, b: services.request_claim(request=r, reviewer=a), "legal_request.claim"),
    "ask_clarification": (
        lambda r, a, b: services.clarification_ask(request=r, reviewer=a, body="Which one?"),
        "legal_request.ask_clarification",
    ),
    "authority_replies": (
        lambda r, a, b: services.message_from_authority(
            request=r, officer=r.officer, body="The first one."
        ),
        "legal_request.authority_replies",
    ),
    "resume": (
        lambda r, a, b: _service("clarification_resume")(
            request=r, reviewer=a, note="Answered by phone."
        ),
        "legal_request.resume",
    ),
    "confirm_approval": (
        lambda r, a, b: confirm(propose(r, a), b),
        "legal_request.confirm_approval",
    ),
    "reject": (
        lambda r, a, b: services.decision_reject(
            request=r, reviewer=a, reason_code="no_account", message="No such account."
        ),
        "legal_request.reject",
    ),
    "deliver": (deliver, "response.sealed"),
    "close": (
        lambda r, a, b: _service("request_close")(request=r, reviewer=a, note="Done."),
        "legal_request.close",
    ),
    "withdraw": (
        lambda r, a, b: services.request_withdraw(request=r, officer=r.officer, reason="Solved."),
        "legal_request.withdraw",
    ),
}


def test_every_action_of_the_table_has_a_service_here():
    assert {action for _, action in TRANSITIONS} == set(PERFORM)


@pytest.mark.usefixtures("storage")
@pytest.mark.parametrize(
    ("before", "action"), sorted(TRANSITIONS), ids=lambda value: str(value).split(".")[-1]
)
def test_each_row_of_the_transition_table_is_performed_by_its_service_and_audited(before, action):
    a, b = reviewers()
    request = make_request()
    BRING_TO[before](request, a, b)
    assert fresh(request).status == before
    seq = audit_mark()
    perform, audit_action = PERFORM[action]

    perform(fresh(request), a, b)

    after = TRANSITIONS[(before, action)]
    assert fresh(request).status == after
    transition = [e for e in events_after(seq) if e.action == audit_action]
    assert len(transition) == 1
    assert transition[0].data["before"] == before
    assert transition[0].data["after"] == after
    assert transition[0].target_id == str(request.pk)


def test_every_pair_outside_the_table_is_refused_by_the_state_machine():
    actions = {action for _, action in TRANSITIONS}
    for state in S.values:
        for action in actions:
            if (state, action) in TRANSITIONS:
                continue
            with pytest.raises(TransitionRefused):
                next_state(state, action)


def _ask(r, a, b):
    services.clarification_ask(request=r, reviewer=a, body="A question")


def _reject(r, a, b):
    services.decision_reject(request=r, reviewer=a, reason_code="incomplete", message="No.")


def _withdraw(r, a, b):
    services.request_withdraw(request=r, officer=r.officer)


def _assess(r, a, b):
    services.assessment_save(request=r, reviewer=a, items=ALL_OK)


def _propose_only(r, a, b):
    services.decision_propose_approval(request=r, reviewer=a, **approval_scope(r))


def _disclose_proposed(r, a, b):
    services.disclosure_create(decision=r.decisions.get(), reviewer=b)


def _reply_closed(r, a, b):
    services.message_from_authority(request=r, officer=r.officer, body="Hello?")


def _claim(r, a, b):
    services.request_claim(request=r, reviewer=b)


def _withdrawn(request, a, b):
    services.request_withdraw(request=request, officer=request.officer)


def _proposed(request, a, b):
    to_in_review(request, a, b)
    propose(request, a)


REFUSED = [
    # (bring the request to, try, why it is refused)
    pytest.param(S.RECEIVED, _ask, id="clarification-before-claim"),
    pytest.param(S.AWAITING_CLARIFICATION, _ask, id="second-clarification-while-waiting"),
    pytest.param(S.RECEIVED, _reject, id="reject-before-review"),
    pytest.param(S.APPROVED, _reject, id="reject-after-approval"),
    pytest.param(S.APPROVED, _withdraw, id="withdraw-after-approval"),
    pytest.param(S.REJECTED, _withdraw, id="withdraw-after-rejection"),
    pytest.param(S.RECEIVED, _assess, id="assess-before-claim"),
    pytest.param(S.AWAITING_CLARIFICATION, _assess, id="assess-while-waiting"),
    pytest.param(S.RECEIVED, _propose_only, id="propose-before-claim"),
    pytest.param(S.REJECTED, _propose_only, id="propose-after-rejection"),
    pytest.param(_proposed, _disclose_proposed, id="disclose-before-confirmation"),
    pytest.param(_withdrawn, _reply_closed, id="authority-writes-on-withdrawn"),
    pytest.param(S.REJECTED, _claim, id="claim-a-rejected-request"),
    pytest.param(_withdrawn, _claim, id="claim-a-withdrawn-request"),
]


@pytest.mark.parametrize(("state", "attempt"), REFUSED)
def test_an_action_the_state_does_not_allow_is_refused_and_changes_nothing(state, attempt):
    a, b = reviewers()
    request = make_request()
    (BRING_TO[state] if isinstance(state, str) else state)(request, a, b)
    before = fresh(request).status
    seq = audit_mark()
    counts = (Message.objects.count(), Decision.objects.count(), Disclosure.objects.count())

    with pytest.raises(ReviewRefused):
        attempt(fresh(request), a, b)

    assert fresh(request).status == before
    assert events_after(seq) == []
    assert (Message.objects.count(), Decision.objects.count(), Disclosure.objects.count()) == (
        counts
    )


# --- The exact audit trail ---------------------------------------------------------------------


def test_an_approval_in_part_leaves_exactly_this_audit_trail():
    a, b = reviewers()
    request = make_request()
    seq = audit_mark()
    first_target = request.targets.first()

    services.request_claim(request=request, reviewer=a)
    services.assessment_save(request=request, reviewer=a, items=ALL_OK)
    decision = services.decision_propose_approval(
        request=request,
        reviewer=a,
        target_ids=[first_target.pk],
        categories=["ip_addresses"],
        period_from=date(2026, 2, 1),
        period_to=ASKED_TO,
    )
    confirm(decision, b)
    disclosure = services.disclosure_create(decision=decision, reviewer=b)

    trail = [(e.action, e.actor_id) for e in events_after(seq)]
    assert trail == [
        ("legal_request.claim", a.pk),
        ("assessment.saved", a.pk),
        ("decision.proposed", a.pk),
        ("disclosure.previewed", b.pk),
        ("legal_request.confirm_approval", b.pk),
        ("disclosure.created", b.pk),
    ]
    proposed = AuditEvent.objects.get(action="decision.proposed")
    assert proposed.data["outcome"] == "approve_partial"
    assert proposed.data["targets"] == [first_target.pk]
    assert proposed.data["categories"] == ["ip_addresses"]
    assert proposed.data["period"] == ["2026-02-01", "2026-03-31"]
    confirmed = AuditEvent.objects.get(action="legal_request.confirm_approval")
    assert confirmed.data["proposed_by"] == a.pk
    assert AuditEvent.objects.get(action="disclosure.created").data["disclosure_id"] == (
        disclosure.pk
    )
    assert audit_chain_verify().ok


def test_a_clarification_round_leaves_exactly_this_audit_trail():
    a, _ = reviewers()
    request = make_request()
    seq = audit_mark()

    services.request_claim(request=request, reviewer=a)
    question = services.clarification_ask(request=request, reviewer=a, body="Which account?")
    answer = services.message_from_authority(
        request=request, officer=request.officer, body="The second."
    )
    services.message_from_authority(request=request, officer=request.officer, body="Thanks.")

    trail = [(e.action, e.data.get("before"), e.data.get("after")) for e in events_after(seq)]
    assert trail == [
        ("legal_request.claim", S.RECEIVED, S.IN_REVIEW),
        ("legal_request.ask_clarification", S.IN_REVIEW, S.AWAITING_CLARIFICATION),
        ("legal_request.authority_replies", S.AWAITING_CLARIFICATION, S.IN_REVIEW),
        ("message.received", None, None),
    ]
    events = events_after(seq)
    assert events[1].data["message_id"] == question.pk
    assert events[2].data["message_id"] == answer.pk
    assert events[2].actor_id == request.officer.user_id


def test_a_rejection_and_an_overruled_proposal_leave_exactly_this_audit_trail():
    a, b = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    seq = audit_mark()

    decision = propose(request, a)
    services.decision_send_back(decision=decision, reviewer=b, note="Too wide: one target only.")
    services.decision_reject(
        request=request, reviewer=b, reason_code="not_proportionate", message="Too wide."
    )

    trail = [(e.action, e.actor_id) for e in events_after(seq)]
    assert trail == [
        ("assessment.saved", a.pk),
        ("decision.proposed", a.pk),
        ("decision.overruled", b.pk),
        ("legal_request.reject", b.pk),
    ]
    assert events_after(seq)[-1].data["reason"] == "not_proportionate"
    decision.refresh_from_db()
    assert decision.state == Decision.State.OVERRULED


def test_claiming_a_request_already_in_review_reassigns_it_without_a_transition():
    a, b = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    seq = audit_mark()

    services.request_claim(request=request, reviewer=b)

    (event,) = events_after(seq)
    assert (event.action, event.data["before"], event.data["after"]) == (
        "legal_request.assigned",
        a.pk,
        b.pk,
    )
    assert ReviewState.objects.get(request=request).assignee == b
    assert fresh(request).status == S.IN_REVIEW


def test_an_officer_or_a_vetting_admin_cannot_use_any_review_service():
    request = make_request()
    seq = audit_mark()
    for outsider in (request.officer.user, make_user(role=Role.VETTING_ADMIN)):
        with pytest.raises(ReviewRefused):
            services.request_claim(request=request, reviewer=outsider)
        with pytest.raises(ReviewRefused):
            services.request_assign(request=request, reviewer=make_user(), assignee=outsider)
    assert events_after(seq) == []
    assert fresh(request).status == S.RECEIVED


# --- Clocks --------------------------------------------------------------------------------


def test_the_deadline_moves_by_exactly_the_time_spent_waiting_for_the_authority(clock):
    a, _ = reviewers()
    request = make_request(received_at=clock.now, due_at=clock.now + timedelta(hours=240))
    due = request.due_at
    services.request_claim(request=request, reviewer=a)

    clock.advance(hours=2)
    services.clarification_ask(request=request, reviewer=a, body="Which account?")
    assert ReviewState.objects.get(request=request).paused_since == clock.now
    clock.advance(hours=3, minutes=30)
    services.message_from_authority(request=request, officer=request.officer, body="This one.")

    assert fresh(request).due_at == due + timedelta(hours=3, minutes=30)
    state = ReviewState.objects.get(request=request)
    assert state.paused_seconds == 3.5 * 3600
    assert state.paused_since is None
    replied = AuditEvent.objects.get(action="legal_request.authority_replies")
    assert replied.data["paused_seconds"] == 3.5 * 3600

    clock.advance(days=1)
    services.clarification_ask(request=request, reviewer=a, body="And the period?")
    clock.advance(days=2)
    services.message_from_authority(request=request, officer=request.officer, body="January.")

    assert fresh(request).due_at == due + timedelta(hours=3, minutes=30) + timedelta(days=2)
    assert ReviewState.objects.get(request=request).paused_seconds == 3.5 * 3600 + 2 * 86400


def test_the_clock_does_not_move_for_a_message_outside_a_clarification(clock):
    a, _ = reviewers()
    request = make_request(received_at=clock.now, due_at=clock.now + timedelta(days=5))
    services.request_claim(request=request, reviewer=a)
    clock.advance(hours=5)
    services.message_from_authority(request=request, officer=request.officer, body="Any news?")
    assert fresh(request).due_at == request.due_at
    assert ReviewState.objects.get(request=request).paused_seconds == 0


def test_resuming_without_an_answer_also_moves_the_deadline_by_the_time_paused(clock):
    resume = _service("clarification_resume")
    a, _ = reviewers()
    request = make_request(received_at=clock.now, due_at=clock.now + timedelta(days=5))
    services.request_claim(request=request, reviewer=a)
    services.clarification_ask(request=request, reviewer=a, body="Which account?")
    clock.advance(hours=6)

    resume(request=request, reviewer=a, note="The officer answered by phone.")

    assert fresh(request).due_at == request.due_at + timedelta(hours=6)
    assert fresh(request).status == S.IN_REVIEW
    assert ReviewState.objects.get(request=request).paused_since is None


def test_a_question_asked_after_the_deadline_keeps_the_request_overdue_until_the_answer(clock):
    """Whether the deadline had passed is recorded when the question is asked
    (``paused_late``, what the queue's overdue count reads); the row's flag and the filter
    follow it, and the answer clears it."""
    from requests_app.lifecycle.clocks import overdue_q, overdue_since
    from requests_app.review.selectors import overdue_count

    a, _ = reviewers()
    late = make_request(received_at=clock.now, due_at=clock.now + timedelta(hours=1))
    in_time = make_request(received_at=clock.now, due_at=clock.now + timedelta(hours=3))
    for request in (late, in_time):
        services.request_claim(request=request, reviewer=a)
    clock.advance(hours=2)
    for request in (late, in_time):
        services.clarification_ask(request=request, reviewer=a, body="Which account?")
    clock.advance(hours=5)  # in_time's deadline passes during the pause: not late work

    assert (fresh(late).paused_late, fresh(in_time).paused_late) == (True, False)
    assert set(LegalRequest.objects.filter(overdue_q(clock.now))) == {late}
    assert overdue_count(clock.now, cap=10) == 1
    assert overdue_since(fresh(late), late.review, now=clock.now) == late.due_at
    assert overdue_since(fresh(in_time), in_time.review, now=clock.now) is None

    services.message_from_authority(request=late, officer=late.officer, body="This one.")
    services.clarification_resume(request=in_time, reviewer=a, note="Answered by phone.")

    assert (fresh(late).paused_late, fresh(in_time).paused_late) == (False, False)
    # The clock runs again, 5 hours later than it was due: late as running work now, and
    # counted once.
    assert fresh(late).due_at == late.due_at + timedelta(hours=5)
    assert set(LegalRequest.objects.filter(overdue_q(clock.now))) == {late}
    assert overdue_count(clock.now, cap=10) == 1


@pytest.mark.usefixtures("storage")
def test_a_request_is_not_closed_while_its_response_is_being_sealed():
    close = _service("request_close")
    a, b = reviewers()
    request = make_request()
    to_approved(request, a, b)
    services.disclosure_create(decision=request.decisions.get(), reviewer=b)  # pending
    seq = audit_mark()

    with pytest.raises(ReviewRefused, match="sealed"):
        close(request=request, reviewer=a, note="Done.")

    assert fresh(request).status == S.APPROVED
    assert events_after(seq) == []


@pytest.mark.parametrize(
    ("country", "kind", "days"),
    [
        ("US", "preservation", 90),
        ("BR", "preservation", 90),
        ("DE", "preservation", 60),
        ("FR", "preservation", 60),
        ("DE", "subscriber_data", None),
    ],
)
def test_preservation_expires_after_90_days_or_60_in_the_eu(country, kind, days, clock):
    officer = make_officer(agency=make_agency(country=country))
    request = make_request(officer=officer, kind=kind, received_at=clock.now)
    clock.advance(days=3)  # the expiry counts from receipt, not from the claim

    services.request_claim(request=request, reviewer=make_user())

    expires = ReviewState.objects.get(request=request).preservation_expires_at
    assert expires == (request.received_at + timedelta(days=days) if days else None)


def test_the_officer_is_told_of_a_question_by_an_email_without_its_content(
    django_capture_on_commit_callbacks, mailoutbox
):
    a, _ = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    with django_capture_on_commit_callbacks(execute=True):
        services.clarification_ask(request=request, reviewer=a, body="Is suspect_one the target?")
    (mail,) = mailoutbox
    assert mail.to == [request.officer.user.email]
    assert "suspect_one" not in mail.body
    assert request.reference not in mail.subject + mail.body


# --- The four eyes ---------------------------------------------------------------------------


def test_nobody_confirms_their_own_proposal():
    a, _ = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    decision = propose(request, a)
    seq = audit_mark()

    with pytest.raises(ReviewRefused, match="second reviewer"):
        services.decision_confirm(decision=decision, reviewer=a)

    decision.refresh_from_db()
    assert decision.state == Decision.State.PROPOSED
    assert fresh(request).status == S.IN_REVIEW
    assert events_after(seq) == []


def test_nobody_confirms_records_they_have_not_looked_at():
    a, b = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    decision = propose(request, a)
    disclosure_preview(decision=decision, viewer=a)  # the proposer's look is not the second's
    seq = audit_mark()

    with pytest.raises(ReviewRefused, match="before confirming"):
        services.decision_confirm(decision=decision, reviewer=b)

    decision.refresh_from_db()
    assert decision.state == Decision.State.PROPOSED
    assert fresh(request).status == S.IN_REVIEW
    assert events_after(seq) == []
    confirm(decision, b)
    assert fresh(request).status == S.APPROVED


def test_a_proposer_who_sends_back_their_own_proposal_withdraws_it():
    a, _ = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    decision = propose(request, a)
    services.decision_send_back(decision=decision, reviewer=a, note="Wrong period.")
    decision.refresh_from_db()
    assert decision.state == Decision.State.WITHDRAWN
    assert AuditEvent.objects.filter(action="decision.withdrawn").count() == 1


def test_only_one_proposal_waits_at_a_time():
    a, b = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    propose(request, a)
    with pytest.raises(ReviewRefused, match="already waiting"):
        services.decision_propose_approval(request=request, reviewer=b, **approval_scope(request))
    assert Decision.objects.count() == 1


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(
            {**ALL_OK, "no_abuse": {"ok": False, "note": "A journalist is targeted."}},
            id="one-item-not-satisfied",
        ),
        pytest.param(
            {key: value for key, value in ALL_OK.items() if key != "legal_basis"},
            id="one-item-not-judged",
        ),
        pytest.param(None, id="no-checklist"),
    ],
)
def test_an_approval_needs_every_checklist_item_satisfied(items):
    a, _ = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    if items is not None:
        services.assessment_save(request=request, reviewer=a, items=items)
    with pytest.raises(ReviewRefused, match="checklist"):
        services.decision_propose_approval(request=request, reviewer=a, **approval_scope(request))
    assert Decision.objects.count() == 0


@pytest.mark.parametrize(
    ("outcome", "number_changed", "allowed"),
    [
        (None, False, False),
        (EmergencyCallback.Outcome.NO_ANSWER, False, False),
        (EmergencyCallback.Outcome.NOT_CONFIRMED, False, False),
        (EmergencyCallback.Outcome.CONFIRMED, True, False),
        (EmergencyCallback.Outcome.CONFIRMED, False, True),
    ],
)
def test_an_emergency_is_approved_only_after_a_confirmed_call_to_the_number_on_file(
    outcome, number_changed, allowed
):
    a, b = reviewers()
    request = make_request(kind="emergency")
    services.request_claim(request=request, reviewer=a)
    if outcome:
        callback = services.emergency_callback_record(request=request, reviewer=a, outcome=outcome)
        assert callback.number_called == request.agency.callback_phone
    if number_changed:
        request.agency.callback_phone = "+4930999999"
        request.agency.save(update_fields=["callback_phone"])
    decision = propose(request, a)
    disclosure_preview(decision=decision, viewer=b)
    seq = audit_mark()

    if allowed:
        services.decision_confirm(decision=decision, reviewer=b)
        assert fresh(request).status == S.APPROVED
    else:
        with pytest.raises(ReviewRefused, match="callback"):
            services.decision_confirm(decision=decision, reviewer=b)
        assert fresh(request).status == S.IN_REVIEW
        assert events_after(seq) == []


def test_a_confirmed_approval_is_handed_to_delivery_once():
    a, b = reviewers()
    request = make_request()
    to_approved(request, a, b)
    decision = request.decisions.get()
    services.disclosure_create(decision=decision, reviewer=a)
    with pytest.raises(ReviewRefused, match="already"):
        services.disclosure_create(decision=decision, reviewer=b)
    assert Disclosure.objects.count() == 1


# --- The approved scope ------------------------------------------------------------------------


def _other_target_id() -> int:
    return make_request(targets=[("username", "bystander")]).targets.get().pk


SCOPES_WIDER_THAN_ASKED = [
    pytest.param(lambda r: {"target_ids": [_other_target_id()]}, id="another-requests-target"),
    pytest.param(
        lambda r: {"target_ids": [*approval_scope(r)["target_ids"], _other_target_id()]},
        id="an-extra-target",
    ),
    pytest.param(lambda r: {"target_ids": []}, id="no-target"),
    pytest.param(
        lambda r: {"categories": ["ip_addresses", "device_info"]}, id="category-not-asked"
    ),
    pytest.param(lambda r: {"categories": []}, id="no-category"),
    pytest.param(lambda r: {"period_from": date(2025, 12, 31)}, id="starts-before-asked"),
    pytest.param(lambda r: {"period_to": date(2026, 4, 1)}, id="ends-after-asked"),
    pytest.param(
        lambda r: {"period_from": date(2026, 3, 1), "period_to": date(2026, 2, 1)}, id="reversed"
    ),
    pytest.param(lambda r: {"period_to": None}, id="open-ended"),
]


@pytest.mark.parametrize("widen", SCOPES_WIDER_THAN_ASKED)
def test_an_approval_wider_than_the_request_is_refused(widen):
    a, _ = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    services.assessment_save(request=request, reviewer=a, items=ALL_OK)
    scope = {**approval_scope(request), **widen(request)}
    seq = audit_mark()

    with pytest.raises(ReviewRefused):
        services.decision_propose_approval(request=request, reviewer=a, **scope)

    assert Decision.objects.count() == 0
    assert events_after(seq) == []


def test_a_narrower_scope_is_an_approval_in_part_and_the_full_one_in_full():
    a, b = reviewers()
    request = make_request()
    services.request_claim(request=request, reviewer=a)
    full = propose(request, a)
    assert full.outcome == Decision.Outcome.APPROVE_FULL
    services.decision_send_back(decision=full, reviewer=b, note="Only the IP addresses.")
    part = services.decision_propose_approval(
        request=request, reviewer=a, **{**approval_scope(request), "categories": ["ip_addresses"]}
    )
    assert part.outcome == Decision.Outcome.APPROVE_PARTIAL
