"""Emergency escalation: the real beat task under a frozen clock, the signed paging notice,
the on-call list's staff page, and the reviewers' home page."""

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import rfc8785
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from portal import crypto
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from portal.sequencer import audit_sequence
from requests_app.review import services
from requests_app.review.escalation import (
    ESCALATED,
    KEY_ID_HEADER,
    ON_CALL_ADDED,
    ON_CALL_REMOVED,
    SIGNATURE_HEADER,
    PagingRefused,
    on_call_add,
    paging_webhook_task,
)
from requests_app.review.models import OnCallReviewer
from requests_app.review.tasks import emergency_escalations_task
from tests.audit_marks import audit_mark, audit_since
from tests.factories import log_in, make_officer, make_user, make_vetting_admin
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = [pytest.mark.django_db]


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


class Pager:
    """The platform's paging system, on the loopback: records what it is sent."""

    def __init__(self, status: int = 202) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = status
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                pager.received.append((dict(self.headers), body))
                self.send_response(pager.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/page"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pager(settings):
    running = Pager()
    settings.PAGING_WEBHOOK_URL = running.url
    yield running
    running.close()


@pytest.fixture
def on_call():
    admin = make_vetting_admin()
    first = make_reviewer(email="first@platform.example")
    second = make_reviewer(email="second@platform.example")
    on_call_add(reviewer=first, by=admin)
    on_call_add(reviewer=second, by=admin)
    make_reviewer(email="off-duty@platform.example")
    return first, second


def sweep(django_capture_on_commit_callbacks) -> int:
    """The beat task itself, with what it leaves for after the commit (emails, the pager)."""
    with django_capture_on_commit_callbacks(execute=True):
        return emergency_escalations_task()


def escalations(request) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=ESCALATED, target_type="requests_app.legalrequest", target_id=str(request.pk)
        ).order_by("seq")
    )


def test_an_unclaimed_emergency_is_escalated_at_15_and_30_minutes_and_never_after_a_claim(
    clock, on_call, pager, django_capture_on_commit_callbacks
):
    first, _ = on_call
    emergency = make_legal_request(kind="emergency", received_at=clock.now)
    make_legal_request(received_at=clock.now)  # not an emergency: never escalated

    clock.advance(minutes=14, seconds=59)
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert mail.outbox == []
    assert pager.received == []

    clock.advance(seconds=1)  # 15 minutes
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sorted(m.to[0] for m in mail.outbox) == [
        "first@platform.example",
        "second@platform.example",
    ]
    assert len(pager.received) == 1

    clock.advance(minutes=5)  # 20 minutes: the next notice is not due yet
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert sweep(django_capture_on_commit_callbacks) == 0  # nor twice at the same moment

    clock.advance(minutes=10)  # 30 minutes
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert len(mail.outbox) == 4
    assert len(pager.received) == 2

    clock.advance(minutes=1)
    services.request_claim(request=emergency, reviewer=first)
    for _ in range(4):
        clock.advance(minutes=15)
        assert sweep(django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == 4
    assert len(pager.received) == 2

    # Every notice is in the audit chain, with whom it went to.
    events = escalations(emergency)
    assert [e.data["notice"] for e in events] == [1, 2]
    assert [e.created_at - emergency.received_at for e in events] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
    ]
    assert all(
        e.data["to"] == ["first@platform.example", "second@platform.example"] for e in events
    )
    assert all(e.data["paged"] is True for e in events)
    audit_sequence()  # the events are put in the tree, as beat does within seconds
    assert audit_chain_verify().ok


def test_the_email_names_nothing_of_the_request(clock, on_call, django_capture_on_commit_callbacks):
    emergency = make_legal_request(
        kind="emergency", received_at=clock.now, case_reference="SECRET-CASE-7"
    )
    clock.advance(minutes=15)

    sweep(django_capture_on_commit_callbacks)

    message = mail.outbox[0]
    for secret in (emergency.reference, "SECRET-CASE-7", emergency.agency.name):
        assert secret not in message.subject + message.body


def test_a_late_sweep_sends_one_notice_not_a_burst(
    clock, on_call, django_capture_on_commit_callbacks
):
    emergency = make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=50)  # the beat was down: 15, 30 and 45 minutes passed unseen

    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 1  # the second is due (30 min) too
    assert sweep(django_capture_on_commit_callbacks) == 1  # and the third (45 min)
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert len(escalations(emergency)) == 3


def test_with_nobody_on_call_every_active_reviewer_is_told(
    clock, django_capture_on_commit_callbacks
):
    make_reviewer(email="a@platform.example")
    make_reviewer(email="b@platform.example")
    make_reviewer(email="gone@platform.example", is_active=False)
    make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=15)

    sweep(django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mail.outbox) == ["a@platform.example", "b@platform.example"]


def test_an_emergency_given_to_a_reviewer_before_it_is_claimed_is_not_escalated(
    clock, on_call, django_capture_on_commit_callbacks
):
    reviewer = on_call[0]
    make_legal_request(kind="emergency", received_at=clock.now, assignee=reviewer)
    clock.advance(minutes=20)

    assert sweep(django_capture_on_commit_callbacks) == 0


def test_the_interval_is_a_setting(clock, settings, on_call, django_capture_on_commit_callbacks):
    settings.EMERGENCY_ESCALATE_MINUTES = 5
    make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=5)

    assert sweep(django_capture_on_commit_callbacks) == 1


# --- The signed notice to the paging system ---------------------------------------------------


def test_the_paging_notice_is_rfc8785_json_signed_with_the_portal_key(
    clock, on_call, pager, django_capture_on_commit_callbacks
):
    emergency = make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=15)

    sweep(django_capture_on_commit_callbacks)

    headers, body = pager.received[0]
    document = json.loads(body)
    assert body == rfc8785.dumps(document)
    assert document == {
        "event": "emergency.unclaimed",
        "portal": document["portal"],
        "reference": emergency.reference,
        "received_at": emergency.received_at.isoformat(),
        "notice": 1,
        "sent_at": clock.now.isoformat(),
        "url": document["portal"] + f"/review/{emergency.reference}/",
    }
    public = crypto.portal_signing_key().public_key()
    assert headers[KEY_ID_HEADER] == crypto.ed25519_key_id(public)
    scheme, signature = headers[SIGNATURE_HEADER].split("=", 1)
    assert scheme == "ed25519"
    crypto.ed25519_verify(public, base64.b64decode(signature), body)
    # A body changed on the way does not verify.
    with pytest.raises(crypto.CryptoError):
        crypto.ed25519_verify(public, base64.b64decode(signature), body.replace(b"1", b"2"))


def test_a_refusing_pager_makes_the_task_fail_so_that_celery_retries_it(settings):
    refusing = Pager(status=503)
    settings.PAGING_WEBHOOK_URL = refusing.url
    try:
        with pytest.raises(PagingRefused):
            paging_webhook_task.run({"event": "emergency.unclaimed", "notice": 1})
    finally:
        refusing.close()
    assert len(refusing.received) == 1
    assert PagingRefused in paging_webhook_task.autoretry_for
    assert paging_webhook_task.max_retries >= 5


def test_without_a_paging_url_only_email_is_sent(
    clock, settings, on_call, django_capture_on_commit_callbacks
):
    settings.PAGING_WEBHOOK_URL = ""
    emergency = make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=15)

    sweep(django_capture_on_commit_callbacks)

    assert escalations(emergency)[0].data["paged"] is False
    assert len(mail.outbox) == 2


def test_beat_runs_the_sweep_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["emergency-escalations"]
    assert entry["task"] == emergency_escalations_task.name
    assert entry["schedule"] == timedelta(minutes=1)
    assert "requests_app.review.tasks" in settings.CELERY_IMPORTS


# --- The reviewers' home page shows the notices ------------------------------------------------


def test_the_reviewers_home_page_shows_each_escalated_emergency(
    client, clock, on_call, django_capture_on_commit_callbacks
):
    emergency = make_legal_request(kind="emergency", received_at=clock.now)
    clock.advance(minutes=30)
    sweep(django_capture_on_commit_callbacks)
    sweep(django_capture_on_commit_callbacks)
    log_in(client, on_call[0])

    page = client.get("/").content.decode()

    alert = page.split('id="escalations"', 1)[1].split("</div>", 1)[0]
    assert f'href="/review/{emergency.reference}/"' in alert
    assert "escalated 2 times" in alert


# --- The on-call list ---------------------------------------------------------------------------


def test_a_vetting_administrator_puts_a_reviewer_on_call_and_takes_them_off(client):
    admin = make_vetting_admin()
    reviewer = make_reviewer(full_name="Olga Oncall")
    log_in(client, admin)
    mark = audit_mark()

    added = client.post("/staff/on-call/add/", {"reviewer": reviewer.pk})
    listed = client.get("/staff/on-call/").content.decode()
    removed = client.post("/staff/on-call/remove/", {"reviewer": reviewer.pk})

    assert added.status_code == removed.status_code == 302
    assert "Olga Oncall" in listed
    assert not OnCallReviewer.objects.exists()
    events = audit_since(mark)
    assert [(e.action, e.actor_id, e.target_id) for e in events] == [
        (ON_CALL_ADDED, admin.pk, str(reviewer.pk)),
        (ON_CALL_REMOVED, admin.pk, str(reviewer.pk)),
    ]


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.OFFICER])
def test_no_other_role_changes_the_on_call_list(client, role):
    user = make_officer().user if role == Role.OFFICER else make_reviewer()
    reviewer = make_reviewer()
    log_in(client, user)
    mark = audit_mark()

    responses = [
        client.get("/staff/on-call/"),
        client.post("/staff/on-call/add/", {"reviewer": reviewer.pk}),
        client.post("/staff/on-call/add/", {"reviewer": user.pk}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert not OnCallReviewer.objects.exists()
    assert audit_since(mark) == []


def test_only_an_active_reviewer_can_be_put_on_call(client):
    admin = make_vetting_admin()
    officer = make_officer().user
    inactive = make_reviewer(is_active=False)
    other_admin = make_user(role=Role.VETTING_ADMIN)
    log_in(client, admin)
    mark = audit_mark()

    for user in (officer, inactive, other_admin):
        response = client.post("/staff/on-call/add/", {"reviewer": user.pk})
        assert response.status_code == 400

    assert not OnCallReviewer.objects.exists()
    assert audit_since(mark) == []
