"""The legal clocks, preservation and its one extension, reminders, and user notices."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.clocks import (
    deadline_reminders_send,
    preservation_extend,
    preservation_reminders_send,
    request_clocks,
)
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.officer.sharing import request_share
from requests_app.review.models import Decision, UserNotice
from requests_app.review.notices import user_notice_mark_done, user_notices_sweep
from requests_app.review.services import (
    ReviewRefused,
    clarification_ask,
    request_claim,
    review_state,
)
from requests_app.review.tasks import (
    deadline_reminders_task,
    preservation_reminders_task,
    user_notices_sweep_task,
)
from tests.audit_marks import audit_mark
from tests.factories import log_in, make_agency, make_officer, make_user
from tests.requests_app.officer_helpers import (
    client_of,
    preservation_submitted,
    request_actions_since,
    reviewer,
    submitted,
)

pytestmark = [pytest.mark.django_db]

S = LegalRequest.Status
DUE = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)


def set_due(request: LegalRequest, due_at: datetime, *, span: timedelta = timedelta(days=10)):
    """Move a request's deadline, and its receipt ``span`` before it (the lead depends on it)."""
    LegalRequest.objects.filter(pk=request.pk).update(due_at=due_at, received_at=due_at - span)
    request.refresh_from_db()


# --- The deadline clock ---------------------------------------------------------------------


def test_a_running_deadline_counts_down_and_badges_by_urgency(legal_request):
    legal_request.due_at = DUE

    def at(moment: datetime):
        return request_clocks(legal_request, state=ReviewState(), now=moment).deadline

    assert at(DUE - timedelta(days=5)).badge == "later"
    assert at(DUE - timedelta(days=5)).time_left == timedelta(days=5)
    assert at(DUE - timedelta(hours=30)).badge == "soon"
    assert at(DUE - timedelta(hours=30)).badge_label == "Due within 48 hours"
    assert at(DUE - timedelta(hours=5)).badge == "today"
    assert at(DUE - timedelta(hours=5)).time_left_text == "5 hours left"
    overdue = at(DUE + timedelta(hours=2, minutes=5))
    assert overdue.badge == "overdue"
    assert overdue.time_left_text == "overdue by 2 hours 5 minutes"


def test_a_paused_deadline_keeps_its_time_left_and_moves_its_due_date(legal_request):
    legal_request.due_at = DUE
    legal_request.status = S.AWAITING_CLARIFICATION
    paused_since = DUE - timedelta(days=3)
    state = ReviewState(paused_since=paused_since, paused_seconds=3600)

    early = request_clocks(legal_request, state=state, now=paused_since + timedelta(hours=1))
    late = request_clocks(legal_request, state=state, now=paused_since + timedelta(days=10))

    assert early.deadline.paused
    assert late.deadline.paused
    assert early.deadline.badge == late.deadline.badge == "paused"
    assert early.deadline.time_left == late.deadline.time_left == timedelta(days=3)
    assert late.deadline.due_at == DUE + timedelta(days=10)
    assert late.deadline.paused_for == timedelta(days=10, hours=1)


def test_an_answered_request_has_no_running_clock(legal_request):
    legal_request.status = S.REJECTED
    clock = request_clocks(legal_request, state=ReviewState(paused_since=DUE), now=DUE).deadline
    assert not clock.open
    assert not clock.paused
    assert clock.time_left is None
    assert clock.badge == ""


def test_both_sides_read_the_same_clock_after_a_real_pause(officer, legal_request):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    clarification_ask(request=legal_request, reviewer=handler, body="Which account?")
    legal_request.refresh_from_db()
    clock = request_clocks(legal_request).deadline
    assert clock.paused
    shown = client_of(officer).get(reverse("officer-requests")).content.decode()
    assert "Paused" in shown
    assert clock.time_left_text in shown


# --- Preservation ---------------------------------------------------------------------------


def test_an_eu_preservation_lasts_60_days_and_extends_once_by_30(
    officer, django_capture_on_commit_callbacks
):
    preservation = preservation_submitted(officer)  # the agency is German
    handler = reviewer()
    request_claim(request=preservation, reviewer=handler)
    clock = request_clocks(preservation).preservation
    assert clock is not None
    assert clock.expires_at == preservation.received_at + timedelta(days=60)
    assert clock.extendable
    assert clock.extension_days == 30
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        state = preservation_extend(request=preservation, officer=officer, reason="EPOC on its way")

    assert state.preservation_expires_at == preservation.received_at + timedelta(days=90)
    assert state.preservation_extended
    assert request_actions_since(mark, preservation) == ["preservation.extended"]
    event = AuditEvent.objects.get(action="preservation.extended")
    assert event.actor_id == officer.user_id
    assert event.data["days"] == 30
    assert event.data["before"] == clock.expires_at.isoformat()
    assert event.data["reason"] == "EPOC on its way"
    assert [m.to for m in mail.outbox] == [[handler.email]]

    with pytest.raises(OfficerRefused, match="already extended once"):
        preservation_extend(request=preservation, officer=officer)
    assert request_actions_since(mark, preservation) == ["preservation.extended"]


def test_a_preservation_elsewhere_lasts_90_days_and_extends_by_90():
    officer = make_officer(agency=make_agency(country="US", callback_phone="+12025550100"))
    preservation = preservation_submitted(officer)
    clock = request_clocks(preservation).preservation
    assert clock is not None
    assert clock.expires_at == preservation.received_at + timedelta(days=90)
    state = preservation_extend(request=preservation, officer=officer)
    assert state.preservation_expires_at == preservation.received_at + timedelta(days=180)


def test_a_lapsed_withdrawn_or_other_request_cannot_be_extended(officer, legal_request):
    preservation = preservation_submitted(officer)
    expires = review_state(preservation).preservation_expires_at
    with pytest.raises(OfficerRefused, match="lapsed"):
        preservation_extend(request=preservation, officer=officer, now=expires)

    LegalRequest.objects.filter(pk=preservation.pk).update(status=S.WITHDRAWN)
    with pytest.raises(OfficerRefused, match="no longer preserved"):
        preservation_extend(request=preservation, officer=officer)

    with pytest.raises(OfficerRefused, match="Only a preservation"):
        preservation_extend(request=legal_request, officer=officer)
    assert not AuditEvent.objects.filter(action="preservation.extended").exists()
    assert not ReviewState.objects.filter(preservation_extended=True).exists()


def test_only_the_submitting_officer_extends_a_preservation(officer):
    preservation = preservation_submitted(officer)
    colleague = make_officer(agency=officer.agency)
    request_share(request=preservation, officer=officer, colleague=colleague)

    with pytest.raises(OfficerRefused) as refused:
        preservation_extend(request=preservation, officer=colleague)

    assert refused.value.code == "forbidden"
    assert not ReviewState.objects.filter(preservation_extended=True).exists()
    client = client_of(colleague)
    url = reverse("officer-preservation-extend", args=[preservation.reference])
    assert client.post(url, {"confirm": "on"}).status_code == 403


def test_the_officer_extends_a_preservation_from_its_page_after_confirming(officer):
    preservation = preservation_submitted(officer)
    client = client_of(officer)
    page = client.get(reverse("officer-request", args=[preservation.reference])).content.decode()
    assert "Extend by 30 days" in page
    url = reverse("officer-preservation-extend", args=[preservation.reference])
    assert "once, before it lapses" in client.get(url).content.decode()

    assert client.post(url, {}).status_code == 400
    assert not ReviewState.objects.filter(preservation_extended=True).exists()

    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert ReviewState.objects.get(request=preservation).preservation_extended
    assert (
        "extended once"
        in client.get(reverse("officer-request", args=[preservation.reference])).content.decode()
    )


# --- Reminders to reviewers -----------------------------------------------------------------


def test_the_reviewer_handling_a_request_is_reminded_once_before_its_deadline(legal_request):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    set_due(legal_request, timezone.now() + timedelta(hours=20))
    mark = audit_mark()

    assert deadline_reminders_send() == 1
    assert deadline_reminders_send() == 0
    assert deadline_reminders_task.apply().get() == 0

    assert [m.to for m in mail.outbox] == [[handler.email]]
    assert legal_request.reference not in mail.outbox[0].body
    assert request_actions_since(mark, legal_request) == ["reminder.deadline_sent"]
    event = AuditEvent.objects.get(action="reminder.deadline_sent")
    assert event.actor_id is None
    assert event.data["to"] == [handler.email]


def test_unassigned_requests_reach_every_reviewer_as_one_email_each(officer):
    first, second = submitted(officer), submitted(officer)
    team = [reviewer(), reviewer()]
    make_user(role=Role.REVIEWER, is_active=False)
    for request in (first, second):
        set_due(request, timezone.now() + timedelta(hours=10))

    assert deadline_reminders_send() == 2

    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in team)
    assert all("2 requests" in m.body for m in mail.outbox)


def test_a_reminder_waits_for_its_lead_time_and_skips_a_paused_clock(officer, legal_request):
    set_due(legal_request, timezone.now() + timedelta(hours=30))
    emergency = submitted(
        officer,
        kind="emergency",
        emergency={"justification": "Imminent threat."},
        data_categories=["ip_addresses"],
    )
    set_due(emergency, timezone.now() + timedelta(hours=3), span=timedelta(hours=8))
    paused = submitted(officer)
    handler = reviewer()
    request_claim(request=paused, reviewer=handler)
    clarification_ask(request=paused, reviewer=handler, body="Which one?")
    set_due(paused, timezone.now() + timedelta(hours=1))

    assert deadline_reminders_send() == 0  # 30 h; an emergency's lead is 2 h; paused

    set_due(emergency, timezone.now() + timedelta(hours=1), span=timedelta(hours=8))
    assert deadline_reminders_send() == 1
    assert AuditEvent.objects.get(action="reminder.deadline_sent").target_id == str(emergency.pk)


def test_a_deadline_moved_on_by_a_pause_is_reminded_again(legal_request):
    handler = reviewer()
    request_claim(request=legal_request, reviewer=handler)
    set_due(legal_request, timezone.now() + timedelta(hours=20))
    assert deadline_reminders_send() == 1

    set_due(legal_request, timezone.now() + timedelta(hours=50))
    assert deadline_reminders_send() == 0
    # 40 hours on, the moved deadline is 10 hours away: the first reminder was for the old one.
    assert deadline_reminders_send(now=timezone.now() + timedelta(hours=40)) == 1
    assert len(mail.outbox) == 2


# --- Reminders to officers ------------------------------------------------------------------


def test_the_officers_on_a_preservation_are_told_once_before_it_ends(officer):
    preservation = preservation_submitted(officer)
    colleague = make_officer(agency=officer.agency)
    request_share(request=preservation, officer=officer, colleague=colleague)
    # Received 55 days ago, with no review row yet: the sweep fixes the expiry.
    LegalRequest.objects.filter(pk=preservation.pk).update(
        received_at=timezone.now() - timedelta(days=55)
    )
    mail.outbox.clear()
    mark = audit_mark()

    assert preservation_reminders_send() == 1
    assert preservation_reminders_task.apply().get() == 0

    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [officer.user.email, colleague.user.email]
    )
    assert all(preservation.reference not in m.body for m in mail.outbox)
    assert request_actions_since(mark, preservation) == ["reminder.preservation_sent"]


def test_no_reminder_for_an_extended_or_withdrawn_preservation(officer):
    extended = preservation_submitted(officer)
    withdrawn = preservation_submitted(officer)
    for request in (extended, withdrawn):
        LegalRequest.objects.filter(pk=request.pk).update(
            received_at=timezone.now() - timedelta(days=57)
        )
        request.refresh_from_db()
        review_state(request)
    preservation_extend(request=extended, officer=officer)
    LegalRequest.objects.filter(pk=withdrawn.pk).update(status=S.WITHDRAWN)

    assert preservation_reminders_send() == 0
    assert mail.outbox == []


# --- User notices ---------------------------------------------------------------------------


def disclose(request: LegalRequest, *, closed: bool = False) -> None:
    """Stand in for review and delivery: a confirmed approval handed over and sealed."""
    handler, second = reviewer(), reviewer()
    decision = Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.APPROVE_FULL,
        state=Decision.State.CONFIRMED,
        proposed_by=handler,
        confirmed_by=second,
        confirmed_at=timezone.now(),
    )
    Disclosure.objects.create(
        request=request, decision=decision, created_by=second, state=Disclosure.State.SEALED
    )
    LegalRequest.objects.filter(pk=request.pk).update(status=S.CLOSED if closed else S.DISCLOSED)


def test_a_disclosure_without_an_order_enters_the_notice_list_once(legal_request):
    disclose(legal_request)
    mark = audit_mark()

    assert user_notices_sweep() == 1
    assert user_notices_sweep() == 0
    assert user_notices_sweep_task.apply().get() == 0

    notice = UserNotice.objects.get(request=legal_request)
    assert notice.state == UserNotice.State.DUE
    assert request_actions_since(mark, legal_request) == ["user_notice.due"]
    assert AuditEvent.objects.get(action="user_notice.due").actor_id is None


def test_no_notice_while_a_non_disclosure_order_runs_and_one_once_it_lapsed(officer):
    until = timezone.now().date() + timedelta(days=365)
    ordered = submitted(officer, non_disclosure={"until": until.isoformat(), "basis": "Court"})
    disclose(ordered, closed=True)

    assert user_notices_sweep() == 0
    assert ReviewState.objects.get(request=ordered).non_disclosure_until == until

    yesterday = timezone.now().date() - timedelta(days=1)
    ReviewState.objects.filter(request=ordered).update(non_disclosure_until=timezone.now().date())
    assert user_notices_sweep() == 0  # in force through its last day
    ReviewState.objects.filter(request=ordered).update(non_disclosure_until=yesterday)
    assert user_notices_sweep() == 1
    assert AuditEvent.objects.get(action="user_notice.due").data["non_disclosure_until"] == str(
        yesterday
    )


def test_no_notice_without_a_disclosure_or_against_the_platforms_policy(
    officer, legal_request, settings
):
    LegalRequest.objects.filter(pk=legal_request.pk).update(status=S.REJECTED)
    closed_unanswered = submitted(officer)
    LegalRequest.objects.filter(pk=closed_unanswered.pk).update(status=S.CLOSED)
    assert user_notices_sweep() == 0

    settings.USER_NOTICE_WITHOUT_ORDER = False
    disclose(submitted(officer))
    assert user_notices_sweep() == 0
    assert not UserNotice.objects.exists()


# --- The reviewers' user-notice page --------------------------------------------------------


@pytest.fixture
def notice(legal_request) -> UserNotice:
    disclose(legal_request)
    user_notices_sweep()
    return UserNotice.objects.get(request=legal_request)


def reviewer_client():
    user = reviewer()
    client = Client()
    log_in(client, user)
    return client, user


def test_a_reviewer_records_that_the_users_were_notified(notice):
    client, user = reviewer_client()
    listing = client.get(reverse("user-notices")).content.decode()
    assert notice.request.reference in listing
    assert "No non-disclosure order" in listing
    mark = audit_mark()

    response = client.post(
        reverse("user-notice-handle", args=[notice.pk]),
        {"outcome": "done", "note": "Emailed the account holder."},
    )

    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.state == UserNotice.State.DONE
    assert notice.handled_by == user
    assert request_actions_since(mark, notice.request) == ["user_notice.done"]
    event = AuditEvent.objects.get(action="user_notice.done")
    assert (event.data["before"], event.data["after"]) == ("due", "done")
    assert "Emailed the account holder." in client.get(reverse("user-notices")).content.decode()


def test_waiving_a_notice_needs_a_reason_and_a_notice_is_handled_once(notice):
    client, user = reviewer_client()
    url = reverse("user-notice-handle", args=[notice.pk])
    mark = audit_mark()

    refused = client.post(url, {"outcome": "waived", "note": ""}, follow=True)
    assert "Say why the users will not be told." in refused.content.decode()
    notice.refresh_from_db()
    assert notice.state == UserNotice.State.DUE

    client.post(url, {"outcome": "waived", "note": "The account is a bot farm."})
    again = client.post(url, {"outcome": "done"}, follow=True)
    assert "already handled" in again.content.decode()
    with pytest.raises(ReviewRefused):
        user_notice_mark_done(notice=notice, reviewer=user)
    notice.refresh_from_db()
    assert notice.state == UserNotice.State.WAIVED
    assert request_actions_since(mark, notice.request) == ["user_notice.waived"]


def test_officers_and_vetting_administrators_cannot_open_the_notice_page(officer, notice):
    for user in (officer.user, make_user(role=Role.VETTING_ADMIN)):
        client = Client()
        log_in(client, user)
        assert client.get(reverse("user-notices")).status_code == 403
        response = client.post(reverse("user-notice-handle", args=[notice.pk]), {"outcome": "done"})
        assert response.status_code == 403
    notice.refresh_from_db()
    assert notice.state == UserNotice.State.DUE
