"""The agency supervisor's view of the agency's requests, tried as attacks.

A supervisor sees every request of their agency (state, clocks, decision, response
metadata), reads in full and answers only those shared with them, downloads a sealed
response only when it was sealed to one of their own recipients, and exports the
history. Another agency's request or response is a 404, and a refused act stores nothing.
"""

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AgeRecipient, KeyStatus, Officer
from portal.models import AuditEvent
from requests_app.delivery.models import SealedResponse
from requests_app.lifecycle.models import LegalRequest, Message, RequestShare
from requests_app.review.models import Decision
from tests.audit_marks import actions_since, audit_mark, audit_since
from tests.factories import log_in, make_agency, make_officer, make_supervisor, make_user
from tests.requests_app.delivery_helpers import delivery_state, sealed_delivery, tmp_storage
from tests.requests_app.factories import make_legal_request

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


@pytest.fixture
def agency():
    return make_agency(name="Polizei Köln", domain="polizei-koeln.example")


@pytest.fixture
def supervisor(agency) -> Officer:
    return make_supervisor(agency=agency, full_name="Sabine Supervisor")


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return browser(supervisor.user)


def share(request: LegalRequest, with_whom: Officer) -> RequestShare:
    return RequestShare.objects.create(
        request=request, officer=with_whom, granted_by=request.officer
    )


def test_the_list_holds_every_request_of_the_agency_and_none_of_another(
    agency, supervisor, supervisor_client
):
    officer = make_officer(agency=agency, full_name="Otto Officer")
    colleague = make_officer(agency=agency)
    mine = [
        make_legal_request(officer=officer, targets=[("username", "night_owl")]),
        make_legal_request(officer=colleague, status=LegalRequest.Status.IN_REVIEW),
    ]
    theirs = make_legal_request(officer=make_officer())

    page = supervisor_client.get("/agency/requests/")

    assert page.status_code == 200
    text = page.content.decode()
    for request in mine:
        assert request.reference in text
    assert theirs.reference not in text
    # The list names the state and the deadline, never a target of a request not shared.
    assert "night_owl" not in text
    # The deadline as an instant in UTC for machines ({% when %}), in the viewer's zone for people.
    assert f'datetime="{mine[0].due_at.isoformat().replace("+00:00", "Z")}"' in text
    only_review = supervisor_client.get("/agency/requests/?status=in_review").content.decode()
    assert mine[1].reference in only_review
    assert mine[0].reference not in only_review


def test_a_request_not_shared_shows_state_clocks_and_decision_but_not_what_it_asks(
    agency, supervisor_client
):
    officer = make_officer(agency=agency)
    request = make_legal_request(
        officer=officer,
        targets=[("username", "night_owl")],
        case_reference="K-4711",
        status=LegalRequest.Status.REJECTED,
    )
    reviewer = make_user(role="reviewer")
    Decision.objects.create(
        request=request,
        outcome=Decision.Outcome.REJECT,
        state=Decision.State.CONFIRMED,
        proposed_by=reviewer,
        confirmed_by=reviewer,
        confirmed_at=timezone.now(),
        message_to_authority="Not proportionate.",
    )
    Message.objects.create(request=request, side="platform", author=reviewer, body="Which unit?")

    page = supervisor_client.get(f"/agency/requests/{request.reference}/").content.decode()

    assert request.reference in page
    assert "Rejected" in page
    assert "Reject" in page
    for secret in ("night_owl", "K-4711", "Which unit?", "Not proportionate."):
        assert secret not in page
    assert f"/agency/requests/{request.reference}/messages/" not in page


def test_a_request_shared_with_the_supervisor_reads_in_full_and_takes_a_reply(
    agency, supervisor, supervisor_client
):
    officer = make_officer(agency=agency)
    request = make_legal_request(
        officer=officer,
        targets=[("username", "night_owl")],
        case_reference="K-4711",
        status=LegalRequest.Status.IN_REVIEW,
    )
    share(request, supervisor)
    mark = audit_mark()

    page = supervisor_client.get(f"/agency/requests/{request.reference}/").content.decode()
    assert "night_owl" in page
    assert "K-4711" in page
    response = supervisor_client.post(
        f"/agency/requests/{request.reference}/messages/", {"body": "Unit 3, case lead."}
    )

    assert response.status_code == 302
    message = Message.objects.get(request=request)
    assert (message.author, message.side, message.body) == (
        supervisor.user,
        "authority",
        "Unit 3, case lead.",
    )
    assert actions_since(mark) == ["message.received"]


def test_a_supervisor_cannot_act_on_a_request_not_shared_with_them(agency, supervisor_client):
    request = make_legal_request(officer=make_officer(agency=agency))
    mark = audit_mark()

    response = supervisor_client.post(
        f"/agency/requests/{request.reference}/messages/", {"body": "Let me in."}
    )

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert actions_since(mark) == []
    # The officer's own pages stay closed to a supervisor, shared or not.
    for url in (
        f"/requests/mine/{request.reference}/",
        f"/requests/mine/{request.reference}/withdraw/",
        f"/requests/mine/{request.reference}/shares/",
    ):
        assert (
            supervisor_client.post(url, {"reason": "x", "email": "x@y.example"}).status_code == 403
        )
    request.refresh_from_db()
    assert request.status == LegalRequest.Status.RECEIVED
    assert actions_since(mark) == []


def test_another_agencys_request_answers_404_on_every_page(supervisor_client):
    stranger = make_officer()
    request = make_legal_request(officer=stranger)
    mark = audit_mark()

    for method, url, data in (
        ("get", f"/agency/requests/{request.reference}/", {}),
        ("post", f"/agency/requests/{request.reference}/messages/", {"body": "Hello"}),
        ("get", "/agency/requests/LR-2026-DOESNOTEXIST/", {}),
    ):
        assert getattr(supervisor_client, method)(url, data).status_code == 404
    assert not Message.objects.exists()
    assert actions_since(mark) == []
    # Through the API, a supervisor's session is no officer at all.
    assert supervisor_client.get(f"/api/v1/submissions/{request.reference}").status_code == 403


# --- Sealed responses -------------------------------------------------------------------------


def test_a_supervisor_sees_response_metadata_but_cannot_download_one_sealed_to_others(
    client, settings, tmp_path, supervisor_client, supervisor
):
    tmp_storage(settings, tmp_path)
    officer = make_officer(agency=supervisor.agency)
    delivery = sealed_delivery(client, officer=officer)
    sealed = delivery.sealed
    share(delivery.request, supervisor)  # even shared: the content is the recipients' alone
    before = delivery_state()

    page = supervisor_client.get(f"/agency/requests/{delivery.reference}/").content.decode()
    assert sealed.sha256 in page
    assert "Sealed to others" in page
    assert f"/agency/requests/responses/{sealed.pk}/download/" not in page
    response = supervisor_client.post(f"/agency/requests/responses/{sealed.pk}/download/")
    officer_route = supervisor_client.post(f"/responses/{sealed.pk}/download/")
    decrypt_page = supervisor_client.get(f"/responses/{sealed.pk}/decrypt/")
    api = supervisor_client.get(f"/api/v1/responses/{sealed.pk}/download")

    assert response.status_code == 404
    assert (officer_route.status_code, decrypt_page.status_code, api.status_code) == (403, 403, 403)
    assert delivery_state() == before  # no download counted, no audit event


def test_a_supervisor_downloads_a_response_sealed_to_their_own_recipient(
    client, settings, tmp_path, supervisor_client, supervisor
):
    tmp_storage(settings, tmp_path)
    officer = make_officer(agency=supervisor.agency)
    delivery = sealed_delivery(client, officer=officer)
    sealed = delivery.sealed
    # The supervisor holds the identity of one of the recipients it was sealed to (say the
    # unit's desk identity, enrolled by both before the supervisor was appointed).
    AgeRecipient.objects.create(
        officer=supervisor, recipient=sealed.recipients[0], status=KeyStatus.ACTIVE
    )
    mark = audit_mark()

    response = supervisor_client.post(f"/agency/requests/responses/{sealed.pk}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == sealed.file.open("rb").read()
    assert SealedResponse.objects.get(pk=sealed.pk).download_count == 1
    (event,) = audit_since(mark)
    assert (event.action, event.actor) == ("response.downloaded", supervisor.user)


def test_a_pending_copy_of_a_recipient_does_not_open_a_response(
    client, settings, tmp_path, supervisor_client, supervisor
):
    tmp_storage(settings, tmp_path)
    delivery = sealed_delivery(client, officer=make_officer(agency=supervisor.agency))
    sealed = delivery.sealed
    # The recipients are listed in the metadata: copying one as an unapproved key of one's
    # own must not open the response.
    AgeRecipient.objects.create(
        officer=supervisor, recipient=sealed.recipients[0], status=KeyStatus.PENDING
    )
    before = delivery_state()

    response = supervisor_client.post(f"/agency/requests/responses/{sealed.pk}/download/")

    assert response.status_code == 404
    assert delivery_state() == before


def test_another_agencys_response_answers_404_even_when_sealed_to_the_supervisors_recipient(
    client, settings, tmp_path, supervisor_client, supervisor
):
    tmp_storage(settings, tmp_path)
    delivery = sealed_delivery(client)  # another agency's officer
    AgeRecipient.objects.create(
        officer=supervisor, recipient=delivery.sealed.recipients[0], status=KeyStatus.ACTIVE
    )
    before = delivery_state()

    response = supervisor_client.post(f"/agency/requests/responses/{delivery.sealed.pk}/download/")

    assert response.status_code == 404
    assert delivery_state() == before


# --- The history as CSV -----------------------------------------------------------------------


def test_the_export_lists_the_agencys_history_with_targets_only_where_shared(
    agency, supervisor, supervisor_client
):
    # An address a spreadsheet would run as a formula if it began a cell.
    officer = make_officer(agency=agency, email="=2+3@polizei-koeln.example")
    shared = make_legal_request(officer=officer, targets=[("username", "night_hawk")])
    share(shared, supervisor)
    private = make_legal_request(
        officer=officer, targets=[("username", "night_owl")], status=LegalRequest.Status.CLOSED
    )
    stranger = make_legal_request(officer=make_officer())
    mark = audit_mark()

    response = supervisor_client.get("/agency/requests/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_reference = {row["reference"]: row for row in rows}
    assert set(by_reference) == {shared.reference, private.reference}
    assert stranger.reference not in by_reference
    assert by_reference[private.reference]["targets"] == ""
    assert by_reference[private.reference]["status"] == "closed"
    assert by_reference[shared.reference]["targets"] == "username:night_hawk"
    # A value that a spreadsheet would run as a formula is exported as text.
    assert by_reference[private.reference]["submitted_by"] == "'=2+3@polizei-koeln.example"
    assert by_reference[shared.reference]["due_at"] == shared.due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert list(rows[0]) == [
        "reference",
        "kind",
        "emergency",
        "status",
        "submitted_by",
        "received_at",
        "due_at",
        "decided_at",
        "closed_at",
        "decision",
        "targets",
    ]
    (event,) = audit_since(mark)
    assert event.action == "agency.requests_exported"
    assert event.data["rows"] == 2
    assert event.data["rows_with_targets"] == 1
    assert AuditEvent.objects.filter(action="agency.requests_exported").count() == 1
