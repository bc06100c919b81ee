"""Vetting: the staff pages that verify agencies, approve officers and keys, and suspend.

Behaviour is tested through the pages, as a logged-in vetting administrator; the rules
(transition tables, reasons, locking) are tested on the services directly.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from accounts.models import (
    Agency,
    AgeRecipient,
    ApiToken,
    CallbackCheck,
    KeyStatus,
    Officer,
    Role,
    SigningKey,
    SigningPasskey,
)
from accounts.services import vetting
from accounts.services.vetting import (
    AGENCY_TRANSITIONS,
    KEY_TRANSITIONS,
    OFFICER_TRANSITIONS,
    VettingRefused,
)
from portal.crypto import fingerprint_groups
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark, audit_since
from tests.factories import (
    PASSWORD,
    log_in,
    make_age_recipient,
    make_agency,
    make_api_token,
    make_callback,
    make_officer,
    make_passkey,
    make_signing_key,
    make_signing_passkey,
    make_user,
    make_vetting_admin,
)

pytestmark = pytest.mark.django_db


# --- Helpers ---------------------------------------------------------------------------


def make_pending_passkey(*, officer: Officer, status: str = KeyStatus.PENDING) -> SigningPasskey:
    """An officer's passkey whose signing record waits for approval (or is in ``status``)."""
    return make_signing_passkey(officer=officer, status=status)


def ready_officer(*, admin, agency: Agency | None = None) -> Officer:
    """A pending officer who meets every condition for approval."""
    officer = make_officer(agency=agency or make_agency(), status=Officer.Status.PENDING)
    make_passkey(officer.user)
    make_callback(agency=officer.agency, officer=officer, called_by=admin)
    return officer


def active_officer_client(officer: Officer) -> Client:
    """A browser logged in as the officer (password and TOTP), with a live session."""
    make_passkey(officer.user)
    officer_client = Client()
    log_in(officer_client, officer.user)
    assert officer_client.get("/account/factors/").status_code == 200
    return officer_client


def lands_on_login(officer_client: Client) -> bool:
    response = officer_client.get("/account/factors/")
    return (
        response.status_code == 302
        and response["Location"].startswith("/login/")
        and "_auth_user_id" not in officer_client.session
    )


def bearer_status(secret: str) -> int:
    return Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def refused_page(response) -> str:
    page = response.content.decode()
    assert 'role="alert"' in page
    return page


# --- The queue -------------------------------------------------------------------------


def test_the_queue_lists_everything_pending_oldest_first_with_counts(admin_client, admin) -> None:
    now = timezone.now()
    newer = make_agency(name="Newer Police", status=Agency.Status.PENDING)
    older = make_agency(name="Older Police", status=Agency.Status.PENDING)
    Agency.objects.filter(pk=older.pk).update(created_at=now - timedelta(days=3))
    make_agency(name="Already Verified Police")
    late = make_officer(full_name="Late Registrant", status=Officer.Status.PENDING)
    early = make_officer(full_name="Early Registrant", status=Officer.Status.PENDING)
    Officer.objects.filter(pk=early.pk).update(created_at=now - timedelta(days=2))
    make_officer(full_name="Mailbox Not Verified", status=Officer.Status.EMAIL_UNVERIFIED)
    make_officer(full_name="Already Active")
    officer = make_officer()
    pending_key = make_signing_key(officer=officer)
    make_signing_key(officer=officer, status=KeyStatus.ACTIVE)
    officer_recipient = make_age_recipient(officer=officer)
    agency_recipient = make_age_recipient(agency=officer.agency)
    pending_passkey = make_pending_passkey(officer=officer)
    make_pending_passkey(officer=officer, status=KeyStatus.ACTIVE)

    response = admin_client.get("/vetting/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Agencies waiting for verification (2)" in page
    assert "Officers waiting for vetting (2)" in page
    assert "Signing keys waiting for approval (1)" in page
    assert "Age recipients waiting for approval (2)" in page
    assert "Passkeys waiting for approval to sign (1)" in page
    assert f"/vetting/signing-passkeys/{pending_passkey.pk}/" in page
    assert pending_passkey.public_key_sha256[:17] in page
    assert page.index("Older Police") < page.index("Newer Police")
    assert page.index("Early Registrant") < page.index("Late Registrant")
    assert "Already Verified Police" not in page
    assert "Mailbox Not Verified" not in page
    assert "Already Active" not in page
    assert f"/vetting/agencies/{newer.pk}/" in page
    assert f"/vetting/officers/{late.pk}/" in page
    assert f"/vetting/signing-keys/{pending_key.pk}/" in page
    assert f"/vetting/age-recipients/{officer_recipient.pk}/" in page
    assert f"/vetting/age-recipients/{agency_recipient.pk}/" in page
    assert "<caption" in page
    assert 'scope="col"' in page


# --- Agencies --------------------------------------------------------------------------


def test_the_agency_page_shows_every_piece_of_evidence(admin_client, admin) -> None:
    proposer = make_user(role=Role.OFFICER, email="proposer@lka.example", totp=False)
    agency = make_agency(
        name="Landeskriminalamt",
        country="DE",
        domain="lka.example",
        callback_phone="+4971154010",
        status=Agency.Status.PENDING,
        proposed_by=proposer,
    )
    officer = make_officer(agency=agency, full_name="Kim Kommissar", status="pending")
    make_callback(
        agency=agency, officer=officer, called_by=admin, note="Switchboard put me through."
    )

    page = admin_client.get(f"/vetting/agencies/{agency.pk}/").content.decode()

    for evidence in (
        "Landeskriminalamt",
        "Germany",
        "Police",
        "lka.example",
        # in international format, with a link that dials it
        '<a class="phone" href="tel:+49-711-54010">+49 711 54010</a>',
        "proposer@lka.example",
        "Kim Kommissar",
        "vera@platform.example",
        "Switchboard put me through.",
        "Confirmed",
    ):
        assert evidence in page, evidence


def test_recording_a_callback_copies_the_number_on_file_and_ignores_a_typed_number(
    admin_client, admin
) -> None:
    # A verified agency: its number on file was checked when it was verified.
    agency = make_agency(callback_phone="+4930123456")
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callbacks/",
        {
            "outcome": "confirmed",
            "note": "Desk officer confirmed.",
            "number_called": "+1999",
            "number": "+4940999999",
            "number_source": "The caller told me.",
        },
    )

    assert response.status_code == 302
    callback = CallbackCheck.objects.get(agency=agency)
    assert callback.number_called == "+4930123456"
    assert callback.called_by == admin
    assert callback.officer is None
    events = audit_since(mark)
    assert [e.action for e in events] == ["callback.recorded"]
    assert events[0].data["number_called"] == "+4930123456"
    assert events[0].data["outcome"] == "confirmed"
    assert callback.number_source == events[0].data["number_source"] == ""


def test_a_callback_about_another_agencys_officer_is_refused_and_nothing_recorded(
    admin_client,
) -> None:
    agency = make_agency()
    stranger = make_officer(status=Officer.Status.PENDING)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callbacks/",
        {"outcome": "confirmed", "officer": stranger.pk},
    )

    assert response.status_code == 400
    refused_page(response)
    assert not CallbackCheck.objects.exists()
    assert actions_since(mark) == []


def test_verifying_an_agency_after_a_confirmed_callback_records_who_and_when(
    admin_client, admin
) -> None:
    agency = make_agency(status=Agency.Status.PENDING)
    callback = make_callback(agency=agency, called_by=admin)
    mark = audit_mark()

    response = admin_client.post(f"/vetting/agencies/{agency.pk}/verify/")

    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.status == Agency.Status.VERIFIED
    assert agency.verified_by == admin
    assert agency.verified_at is not None
    events = audit_since(mark)
    assert [e.action for e in events] == ["agency.verified"]
    assert events[0].actor_id == admin.pk
    assert events[0].data["before"] == {"status": "pending"}
    assert events[0].data["after"] == {"status": "verified"}
    assert events[0].data["callback_id"] == callback.pk
    assert "official website" in events[0].data["number_source"]


@pytest.mark.parametrize(
    "callback",
    [
        None,
        {"outcome": CallbackCheck.Outcome.NO_ANSWER},
        {"outcome": CallbackCheck.Outcome.NOT_CONFIRMED},
        {"number": "+4940999999"},
    ],
    ids=["no callback", "no answer", "not confirmed", "another number"],
)
def test_verifying_without_a_confirmed_callback_on_file_is_refused_and_nothing_changes(
    admin_client, admin, callback
) -> None:
    agency = make_agency(status=Agency.Status.PENDING, callback_phone="+4930123456")
    if callback is not None:
        make_callback(agency=agency, called_by=admin, **callback)
    mark = audit_mark()

    response = admin_client.post(f"/vetting/agencies/{agency.pk}/verify/")

    assert response.status_code == 409
    assert "No confirmed callback" in refused_page(response)
    agency.refresh_from_db()
    assert agency.status == Agency.Status.PENDING
    assert agency.verified_by is None
    assert actions_since(mark) == []


def test_a_call_that_does_not_say_where_its_number_was_found_does_not_verify_a_new_agency(
    admin_client, admin
) -> None:
    # A confirmed call to the number the proposal gave, with no independent source: it
    # proves only that the proposer answers their own phone.
    agency = make_agency(status=Agency.Status.PENDING)
    make_callback(agency=agency, called_by=admin, number_source="")
    mark = audit_mark()

    response = admin_client.post(f"/vetting/agencies/{agency.pk}/verify/")

    assert response.status_code == 409
    assert "found independently of the registration" in refused_page(response)
    agency.refresh_from_db()
    assert agency.status == Agency.Status.PENDING
    assert agency.verified_by is None
    assert actions_since(mark) == []


def test_changing_the_callback_number_voids_earlier_callbacks_even_when_changed_back(
    admin_client, admin
) -> None:
    agency = make_agency(status=Agency.Status.PENDING, callback_phone="+4930123456")
    verify: dict[str, str] = {}
    call = {
        "outcome": "confirmed",
        "number": "+49 30 123456",
        "number_source": "Federal directory of authorities, www.directory.example/police.",
    }
    mark = audit_mark()
    admin_client.post(f"/vetting/agencies/{agency.pk}/callbacks/", call)

    # an "our number has changed" request, then a change back to the original number
    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callback-number/",
        {"number": "+49 40 555 0101", "reason": "Agency wrote that its switchboard moved."},
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.callback_phone == "+49405550101"
    assert admin_client.post(f"/vetting/agencies/{agency.pk}/verify/", verify).status_code == 409

    admin_client.post(
        f"/vetting/agencies/{agency.pk}/callback-number/",
        {"number": "+4930123456", "reason": "The move was not confirmed by the directory."},
    )
    response = admin_client.post(f"/vetting/agencies/{agency.pk}/verify/", verify)
    assert response.status_code == 409
    assert "No confirmed callback" in refused_page(response)
    page = admin_client.get(f"/vetting/agencies/{agency.pk}/").content.decode()
    assert "made before the number was last set" in page

    admin_client.post(f"/vetting/agencies/{agency.pk}/callbacks/", call)
    assert admin_client.post(f"/vetting/agencies/{agency.pk}/verify/", verify).status_code == 302

    agency.refresh_from_db()
    assert agency.status == Agency.Status.VERIFIED
    events = audit_since(mark)
    assert [e.action for e in events] == [
        "callback.recorded",
        "agency.callback_number_changed",
        "agency.callback_number_changed",
        "callback.recorded",
        "agency.verified",
    ]
    assert events[1].data == {
        "before": {"callback_phone": "+4930123456"},
        "after": {"callback_phone": "+49405550101"},
        "reason": "Agency wrote that its switchboard moved.",
    }


@pytest.mark.parametrize(
    ("number", "reason"),
    [("+4940555010", ""), ("040 555 0101", "Directory lists it."), ("+0049405550", "Listed.")],
    ids=["no reason", "not international", "no country code"],
)
def test_a_new_callback_number_needs_a_reason_and_an_international_number(
    admin_client, number, reason
) -> None:
    agency = make_agency(callback_phone="+4930123456")
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callback-number/", {"number": number, "reason": reason}
    )

    assert response.status_code in (400, 409)
    refused_page(response)
    agency.refresh_from_db()
    assert agency.callback_phone == "+4930123456"
    assert actions_since(mark) == []


def test_the_callback_number_page_asks_for_confirmation_without_javascript(admin_client) -> None:
    agency = make_agency(callback_phone="+4930123456")

    page = admin_client.get(f"/vetting/agencies/{agency.pk}/callback-number/").content.decode()

    assert "+49 30 123456" in page
    assert 'method="post"' in page
    assert '<label for="id_number">' in page
    assert '<label for="id_reason">' in page
    assert "<script" not in page


@pytest.mark.parametrize(
    ("action", "status", "after"),
    [
        ("reject", Agency.Status.PENDING, Agency.Status.REJECTED),
        ("suspend", Agency.Status.VERIFIED, Agency.Status.SUSPENDED),
    ],
)
def test_rejecting_or_suspending_an_agency_needs_a_reason(
    admin_client, admin, action, status, after
) -> None:
    agency = make_agency(status=status)
    mark = audit_mark()
    url = f"/vetting/agencies/{agency.pk}/{action}/"

    confirmation = admin_client.get(url)
    refused = admin_client.post(url, {"reason": "   "})

    assert confirmation.status_code == 200
    assert "What happens" in confirmation.content.decode()
    assert refused.status_code == 400
    assert 'href="#id_reason"' in refused_page(refused)
    agency.refresh_from_db()
    assert agency.status == status
    assert actions_since(mark) == []

    response = admin_client.post(url, {"reason": "Not a real authority: no such office."})

    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.status == after
    assert agency.status_reason == "Not a real authority: no such office."
    events = audit_since(mark)
    assert [e.action for e in events] == [f"agency.{after}"]
    assert events[0].data == {
        "before": {"status": str(status)},
        "after": {"status": str(after)},
        "reason": "Not a real authority: no such office.",
    }


def test_suspending_an_agency_logs_out_every_officer_and_stops_their_tokens(
    admin_client, admin
) -> None:
    agency = make_agency()
    first, second = make_officer(agency=agency), make_officer(agency=agency)
    first_client, second_client = active_officer_client(first), active_officer_client(second)
    token, secret = make_api_token(officer=first)
    assert bearer_status(secret) == 200
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/suspend/",
        {"reason": "Mailboxes of the agency reported compromised."},
    )

    assert response.status_code == 302
    assert lands_on_login(first_client)
    assert lands_on_login(second_client)
    assert bearer_status(secret) == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoked_by == admin
    assert actions_since(mark) == ["agency.suspended", "api_token.revoked"]


def test_reinstating_an_agency_needs_a_confirmed_callback_on_the_number_on_file(
    admin_client, admin
) -> None:
    agency = make_agency(status=Agency.Status.SUSPENDED)
    url = f"/vetting/agencies/{agency.pk}/reinstate/"
    mark = audit_mark()

    refused = admin_client.post(url, {"reason": "Paperwork received."})
    assert refused.status_code == 409
    agency.refresh_from_db()
    assert agency.status == Agency.Status.SUSPENDED
    assert actions_since(mark) == []

    make_callback(agency=agency, called_by=admin)
    assert admin_client.post(url, {"reason": "Paperwork received."}).status_code == 302

    agency.refresh_from_db()
    assert agency.status == Agency.Status.VERIFIED
    assert agency.status_reason == ""
    assert actions_since(mark) == ["agency.reinstated"]


# --- Officers --------------------------------------------------------------------------


def test_the_officer_page_shows_every_piece_of_evidence(admin_client, admin) -> None:
    agency = make_agency(domain="polizei.example", status=Agency.Status.PENDING)
    officer = make_officer(
        agency=agency,
        full_name="Olga Officer",
        email="olga@polizei.example",
        status=Officer.Status.PENDING,
    )
    make_callback(agency=agency, officer=officer, called_by=admin, note="HR confirmed Olga.")

    page = admin_client.get(f"/vetting/officers/{officer.pk}/").content.decode()

    for evidence in (
        "Olga Officer",
        "Inspector",
        officer.badge_number,
        "olga@polizei.example",
        "On the agency's domain <code>polizei.example</code>",
        "Mailbox verified",
        "Passkey",
        "missing",
        "Pending verification",
        "HR confirmed Olga.",
        "The officer has not enrolled both a passkey and an authenticator app.",
        "The agency is not verified",
    ):
        assert evidence in page, evidence


def test_approving_a_ready_officer_activates_them_audits_and_tells_them_by_email(
    admin_client, admin, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    officer = ready_officer(admin=admin)
    callback = officer.callbacks.get()
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/vetting/officers/{officer.pk}/approve/")

    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    assert officer.vetted_by == admin
    events = audit_since(mark)
    assert [e.action for e in events] == ["officer.approved"]
    assert events[0].data == {
        "before": {"status": "pending"},
        "after": {"status": "active"},
        "callback_id": callback.pk,
    }
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [officer.user.email]
    assert "approved" in message.body
    for secret in (officer.badge_number, officer.agency.name, admin.email, "http"):
        assert secret not in message.body


@pytest.mark.parametrize(
    "missing",
    [
        "callback",
        "callback about this officer",
        "confirmed callback",
        "passkey",
        "totp",
        "mailbox",
        "agency verified",
        "agency not suspended",
    ],
)
def test_approving_an_officer_is_refused_and_nothing_changes_without(
    admin_client, admin, mailoutbox, django_capture_on_commit_callbacks, missing
) -> None:
    agency = make_agency(
        status={"agency verified": Agency.Status.PENDING, "agency not suspended": "suspended"}.get(
            missing, Agency.Status.VERIFIED
        )
    )
    officer = make_officer(agency=agency, status=Officer.Status.PENDING)
    if missing != "passkey":
        make_passkey(officer.user)
    if missing == "totp":
        officer.user.totpdevice_set.all().delete()
    if missing == "mailbox":
        Officer.objects.filter(pk=officer.pk).update(email_verified_at=None)
    if missing == "callback about this officer":
        colleague = make_officer(agency=agency, status=Officer.Status.PENDING)
        make_callback(agency=agency, officer=colleague, called_by=admin)
    elif missing == "confirmed callback":
        make_callback(agency=agency, officer=officer, called_by=admin, outcome="not_confirmed")
    elif missing != "callback":
        make_callback(agency=agency, officer=officer, called_by=admin)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/vetting/officers/{officer.pk}/approve/")

    assert response.status_code == 409
    refused_page(response)
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert officer.vetted_by is None
    assert actions_since(mark) == []
    assert mailoutbox == []


def test_rejecting_an_officer_needs_a_reason_and_tells_them_without_it(
    admin_client, admin, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    officer = make_officer(status=Officer.Status.PENDING)
    url = f"/vetting/officers/{officer.pk}/reject/"
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        refused = admin_client.post(url, {"reason": ""})
    assert refused.status_code == 400
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"reason": "Agency HR: nobody of that name works here."})

    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.REJECTED
    assert officer.status_reason == "Agency HR: nobody of that name works here."
    assert actions_since(mark) == ["officer.rejected"]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [officer.user.email]
    assert "not approved" in mailoutbox[0].body
    assert "HR" not in mailoutbox[0].body


def test_suspending_an_officer_ends_their_live_session_and_their_tokens(
    admin_client, admin
) -> None:
    officer = make_officer()
    colleague = make_officer(agency=officer.agency)
    officer_client = active_officer_client(officer)
    colleague_client = active_officer_client(colleague)
    token, secret = make_api_token(officer=officer)
    _, colleague_secret = make_api_token(officer=colleague)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/officers/{officer.pk}/suspend/", {"reason": "Mailbox reported phished."}
    )

    assert response.status_code == 302
    assert lands_on_login(officer_client)
    assert bearer_status(secret) == 401
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_at is not None) == (admin, True)
    # a colleague at the same agency is untouched
    assert colleague_client.get("/account/factors/").status_code == 200
    assert bearer_status(colleague_secret) == 200
    events = audit_since(mark)
    assert [e.action for e in events] == ["officer.suspended", "api_token.revoked"]
    assert events[0].data["reason"] == "Mailbox reported phished."


def test_reinstating_a_suspended_officer_applies_the_approval_checks_again(
    admin_client, admin
) -> None:
    officer = ready_officer(admin=admin)
    Officer.objects.filter(pk=officer.pk).update(status=Officer.Status.SUSPENDED)
    url = f"/vetting/officers/{officer.pk}/reinstate/"
    officer.user.totpdevice_set.all().delete()
    mark = audit_mark()

    refused = admin_client.post(url, {"reason": "Investigation closed."})
    assert refused.status_code == 409
    officer.refresh_from_db()
    assert officer.status == Officer.Status.SUSPENDED

    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=officer.user, name="Authenticator app", confirmed=True)
    assert admin_client.post(url, {"reason": "Investigation closed."}).status_code == 302

    officer.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    assert actions_since(mark) == ["officer.reinstated"]


# --- Keys ------------------------------------------------------------------------------


def test_the_key_page_shows_owner_key_id_and_fingerprint_in_groups_of_four(
    admin_client,
) -> None:
    officer = make_officer(full_name="Fiona Fingerprint")
    key = make_signing_key(officer=officer)
    recipient = make_age_recipient(officer=officer)

    key_page = admin_client.get(f"/vetting/signing-keys/{key.pk}/").content.decode()
    recipient_page = admin_client.get(f"/vetting/age-recipients/{recipient.pk}/").content.decode()

    groups = fingerprint_groups(key.key_id).split()
    assert len(groups) == 16
    assert all(len(group) == 4 for group in groups)
    assert "".join(f"<li><code>{group}</code></li>" for group in groups) in key_page
    assert key.key_id in key_page
    assert "Fiona Fingerprint" in key_page
    assert "BEGIN PUBLIC KEY" in key_page
    assert recipient.recipient in recipient_page
    for group in fingerprint_groups(recipient.recipient).split():
        assert f"<li><code>{group}</code></li>" in recipient_page


@pytest.mark.parametrize(
    ("kind", "make", "action"),
    [
        ("signing-keys", make_signing_key, "signing_key.approved"),
        ("signing-passkeys", make_pending_passkey, "signing_passkey.approved"),
        ("age-recipients", make_age_recipient, "age_recipient.approved"),
    ],
)
def test_approving_a_key_needs_the_fingerprint_compared_and_records_who(
    admin_client, admin, kind, make, action
) -> None:
    key = make(officer=make_officer())
    url = f"/vetting/{kind}/{key.pk}/approve/"
    mark = audit_mark()

    refused = admin_client.post(url, {})
    assert refused.status_code == 400
    assert 'href="#id_fingerprint_confirmed"' in refused_page(refused)
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING

    assert admin_client.post(url, {"fingerprint_confirmed": "on"}).status_code == 302

    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE
    assert key.decided_by == admin
    assert key.decided_at is not None
    # The call that compared the fingerprint is in the agency's history, about this key.
    call = CallbackCheck.objects.get()
    assert (call.agency, call.officer, call.key) == (key.officer.agency, key.officer, key)
    assert (call.outcome, call.number_called) == ("confirmed", key.officer.agency.callback_phone)
    events = audit_since(mark)
    assert [e.action for e in events] == ["callback.recorded", action]
    assert events[1].data["fingerprint_confirmed"] is True
    assert events[1].data["officer_id"] == key.officer_id
    assert events[1].data["callback_id"] == call.pk


def test_an_agency_recipient_of_a_verified_agency_can_be_approved(admin_client, admin) -> None:
    recipient = make_age_recipient(agency=make_agency())
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/age-recipients/{recipient.pk}/approve/", {"fingerprint_confirmed": "on"}
    )

    assert response.status_code == 302
    recipient.refresh_from_db()
    assert recipient.status == KeyStatus.ACTIVE
    events = audit_since(mark)
    assert [e.action for e in events] == ["callback.recorded", "age_recipient.approved"]
    assert events[1].data["agency_id"] == recipient.agency_id
    call = CallbackCheck.objects.get()
    assert (call.agency_id, call.officer, call.age_recipient) == (
        recipient.agency_id,
        None,
        recipient,
    )


@pytest.mark.parametrize("kind", ["signing-keys", "age-recipients"])
@pytest.mark.parametrize(
    ("officer_status", "agency_status"),
    [
        (Officer.Status.PENDING, Agency.Status.VERIFIED),
        (Officer.Status.SUSPENDED, Agency.Status.VERIFIED),
        (Officer.Status.ACTIVE, Agency.Status.SUSPENDED),
        (Officer.Status.ACTIVE, Agency.Status.PENDING),
    ],
)
def test_only_keys_of_active_officers_of_verified_agencies_can_be_approved(
    admin_client, kind, officer_status, agency_status
) -> None:
    officer = make_officer(agency=make_agency(status=agency_status), status=officer_status)
    key = (make_signing_key if kind == "signing-keys" else make_age_recipient)(officer=officer)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/{kind}/{key.pk}/approve/", {"fingerprint_confirmed": "on"}
    )

    assert response.status_code == 409
    refused_page(response)
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING
    assert key.decided_by is None
    assert actions_since(mark) == []


def test_an_agency_recipient_of_a_suspended_agency_cannot_be_approved(admin_client) -> None:
    recipient = make_age_recipient(agency=make_agency(status=Agency.Status.SUSPENDED))

    response = admin_client.post(
        f"/vetting/age-recipients/{recipient.pk}/approve/", {"fingerprint_confirmed": "on"}
    )

    assert response.status_code == 409
    recipient.refresh_from_db()
    assert recipient.status == KeyStatus.PENDING


@pytest.mark.parametrize(
    ("kind", "make", "entity"),
    [
        ("signing-keys", make_signing_key, "signing_key"),
        ("age-recipients", make_age_recipient, "age_recipient"),
    ],
)
def test_rejecting_a_key_needs_a_reason_and_keeps_the_key(
    admin_client, admin, kind, make, entity
) -> None:
    key = make(officer=make_officer())
    url = f"/vetting/{kind}/{key.pk}/reject/"
    mark = audit_mark()

    assert admin_client.post(url, {"reason": ""}).status_code == 400
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING

    assert (
        admin_client.post(url, {"reason": "Fingerprint read by phone differed."}).status_code == 302
    )

    key.refresh_from_db()
    assert key.status == KeyStatus.REJECTED
    assert key.reason == "Fingerprint read by phone differed."
    assert key.decided_by == admin
    assert actions_since(mark) == [f"{entity}.rejected"]


@pytest.mark.parametrize(
    ("kind", "model", "make", "entity"),
    [
        ("signing-keys", SigningKey, make_signing_key, "signing_key"),
        ("age-recipients", AgeRecipient, make_age_recipient, "age_recipient"),
    ],
)
def test_a_revoked_key_stays_in_the_database_with_who_and_when(
    admin_client, admin, kind, model, make, entity
) -> None:
    key = make(officer=make_officer(), status=KeyStatus.ACTIVE)
    url = f"/vetting/{kind}/{key.pk}/revoke/"
    mark = audit_mark()

    assert "kept for the record" in admin_client.get(url).content.decode()
    assert admin_client.post(url, {"reason": " "}).status_code == 400
    assert admin_client.post(url, {"reason": "Laptop with the key was stolen."}).status_code == 302

    stored = model.objects.get(pk=key.pk)
    assert stored.status == KeyStatus.REVOKED
    assert stored.revoked_by == admin
    assert stored.revoked_at is not None
    assert stored.reason == "Laptop with the key was stolen."
    events = audit_since(mark)
    assert [e.action for e in events] == [f"{entity}.revoked"]
    assert events[0].data["before"] == {"status": "active"}
    assert events[0].data["after"] == {"status": "revoked"}
    # nothing more can be decided about it, and it cannot come back
    again = admin_client.post(url, {"reason": "Again."})
    approve = admin_client.post(
        f"/vetting/{kind}/{key.pk}/approve/", {"fingerprint_confirmed": "on"}
    )
    assert (again.status_code, approve.status_code) == (409, 409)
    assert model.objects.get(pk=key.pk).status == KeyStatus.REVOKED
    assert actions_since(mark) == [f"{entity}.revoked"]


# --- Who may use the vetting pages -----------------------------------------------------


def vetting_endpoints(objects: dict) -> list[tuple[str, str, dict]]:
    """Every vetting page and action, with data that would change something if obeyed."""
    agency, officer = objects["agency"].pk, objects["officer"].pk
    verified, active = objects["verified_agency"].pk, objects["active_officer"].pk
    key, recipient = objects["signing_key"].pk, objects["age_recipient"].pk
    active_key = objects["active_key"].pk
    passkey, active_passkey = objects["signing_passkey"].pk, objects["active_passkey"].pk
    reason = {"reason": "Because."}
    confirmed = {"fingerprint_confirmed": "on"}
    return [
        ("get", "/vetting/", {}),
        ("get", f"/vetting/agencies/{agency}/", {}),
        ("post", f"/vetting/agencies/{agency}/callbacks/", {"outcome": "confirmed"}),
        ("get", f"/vetting/agencies/{agency}/callback-number/", {}),
        (
            "post",
            f"/vetting/agencies/{agency}/callback-number/",
            {"number": "+4940555000", **reason},
        ),
        ("post", f"/vetting/agencies/{agency}/verify/", {"number_source": "Website."}),
        ("get", f"/vetting/agencies/{agency}/reject/", {}),
        ("post", f"/vetting/agencies/{agency}/reject/", reason),
        ("post", f"/vetting/agencies/{verified}/suspend/", reason),
        ("post", f"/vetting/agencies/{verified}/reinstate/", reason),
        ("get", f"/vetting/officers/{officer}/", {}),
        ("post", f"/vetting/officers/{officer}/callbacks/", {"outcome": "confirmed"}),
        ("post", f"/vetting/officers/{officer}/approve/", {}),
        ("post", f"/vetting/officers/{officer}/reject/", reason),
        ("get", f"/vetting/officers/{active}/suspend/", {}),
        ("post", f"/vetting/officers/{active}/suspend/", reason),
        ("post", f"/vetting/officers/{active}/reinstate/", reason),
        ("get", f"/vetting/signing-keys/{key}/", {}),
        ("post", f"/vetting/signing-keys/{key}/approve/", confirmed),
        ("post", f"/vetting/signing-keys/{key}/reject/", reason),
        ("post", f"/vetting/signing-keys/{active_key}/revoke/", reason),
        ("get", f"/vetting/age-recipients/{recipient}/", {}),
        ("post", f"/vetting/age-recipients/{recipient}/approve/", confirmed),
        ("post", f"/vetting/age-recipients/{recipient}/reject/", reason),
        ("get", f"/vetting/signing-passkeys/{passkey}/", {}),
        ("post", f"/vetting/signing-passkeys/{passkey}/approve/", confirmed),
        ("post", f"/vetting/signing-passkeys/{passkey}/reject/", reason),
        ("post", f"/vetting/signing-passkeys/{active_passkey}/revoke/", reason),
    ]


def vetting_state() -> dict:
    """Everything a vetting action could change."""
    return {
        "agencies": sorted(Agency.objects.values_list("pk", "status", "callback_phone")),
        "officers": sorted(Officer.objects.values_list("pk", "status", "vetted_by")),
        "callbacks": CallbackCheck.objects.count(),
        "keys": sorted(SigningKey.objects.values_list("pk", "status", "revoked_at")),
        "recipients": sorted(AgeRecipient.objects.values_list("pk", "status", "revoked_at")),
        "passkeys": sorted(SigningPasskey.objects.values_list("pk", "status", "decided_by")),
        "tokens": sorted(ApiToken.objects.values_list("pk", "revoked_at")),
        "audit": sorted(
            AuditEvent.objects.exclude(action__startswith="auth.").values_list("seq", "action")
        ),
    }


@pytest.mark.parametrize("who", ["anonymous", "officer", "reviewer", "password-only admin"])
def test_vetting_pages_refuse_everyone_but_a_verified_vetting_admin_and_change_nothing(
    client, admin, who
) -> None:
    objects = {
        "agency": make_agency(status=Agency.Status.PENDING),
        "verified_agency": make_agency(),
    }
    objects["officer"] = ready_officer(admin=admin)
    objects["active_officer"] = make_officer(agency=objects["verified_agency"])
    make_api_token(officer=objects["active_officer"])
    make_callback(agency=objects["agency"], called_by=admin)
    objects["signing_key"] = make_signing_key(officer=objects["active_officer"])
    objects["active_key"] = make_signing_key(
        officer=objects["active_officer"], status=KeyStatus.ACTIVE
    )
    objects["age_recipient"] = make_age_recipient(officer=objects["active_officer"])
    objects["signing_passkey"] = make_pending_passkey(officer=objects["active_officer"])
    objects["active_passkey"] = make_pending_passkey(
        officer=objects["active_officer"], status=KeyStatus.ACTIVE
    )
    if who == "officer":
        officer = make_officer()
        make_passkey(officer.user)
        log_in(client, officer.user)
    elif who == "reviewer":
        log_in(client, make_user(role=Role.REVIEWER))
    elif who == "password-only admin":
        client.post("/login/", {"username": admin.email, "password": PASSWORD})
        assert "_auth_user_id" in client.session
    before = vetting_state()

    for method, url, data in vetting_endpoints(objects):
        response = getattr(client, method)(url, data)

        if who in ("officer", "reviewer"):
            assert response.status_code == 403, (method, url)
        elif who == "password-only admin":
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/verify/"), (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/"), (method, url)
        assert "Vetting queue" not in response.content.decode()

    assert vetting_state() == before


def test_the_services_refuse_an_actor_who_is_not_a_vetting_admin() -> None:
    reviewer = make_user(role=Role.REVIEWER)
    agency = make_agency(status=Agency.Status.PENDING)
    officer = make_officer(status=Officer.Status.PENDING)
    mark = audit_mark()

    with pytest.raises(PermissionDenied):
        vetting.agency_verify(agency=agency, actor=reviewer)
    with pytest.raises(PermissionDenied):
        vetting.callback_record(agency=agency, actor=reviewer, outcome="confirmed")
    with pytest.raises(PermissionDenied):
        vetting.officer_approve(officer=officer, actor=reviewer)

    assert not CallbackCheck.objects.exists()
    assert actions_since(mark) == []


# --- The transition tables -------------------------------------------------------------


AGENCY_SERVICES = {
    "verify": lambda agency, actor: vetting.agency_verify(agency=agency, actor=actor),
    "reject": lambda agency, actor: vetting.agency_reject(
        agency=agency, actor=actor, reason="Reason."
    ),
    "suspend": lambda agency, actor: vetting.agency_suspend(
        agency=agency, actor=actor, reason="Reason."
    ),
    "reinstate": lambda agency, actor: vetting.agency_reinstate(
        agency=agency, actor=actor, reason="Reason."
    ),
}


def test_every_agency_action_has_a_service() -> None:
    assert set(AGENCY_SERVICES) == set(AGENCY_TRANSITIONS)


@pytest.mark.parametrize("action", sorted(AGENCY_TRANSITIONS))
@pytest.mark.parametrize("status", Agency.Status.values)
def test_agency_decisions_follow_the_transition_table(admin, action, status) -> None:
    agency = make_agency(status=status)
    make_callback(agency=agency, called_by=admin)
    transition = AGENCY_TRANSITIONS[action]
    mark = audit_mark()

    if status in transition.sources:
        AGENCY_SERVICES[action](agency, admin)
        agency.refresh_from_db()
        assert agency.status == transition.target
        assert actions_since(mark)[0].startswith("agency.")
    else:
        with pytest.raises(VettingRefused):
            AGENCY_SERVICES[action](agency, admin)
        agency.refresh_from_db()
        assert agency.status == status
        assert actions_since(mark) == []


OFFICER_SERVICES = {
    "approve": lambda officer, actor: vetting.officer_approve(officer=officer, actor=actor),
    "reject": lambda officer, actor: vetting.officer_reject(
        officer=officer, actor=actor, reason="Reason."
    ),
    "suspend": lambda officer, actor: vetting.officer_suspend(
        officer=officer, actor=actor, reason="Reason."
    ),
    "reinstate": lambda officer, actor: vetting.officer_reinstate(
        officer=officer, actor=actor, reason="Reason."
    ),
}


def test_every_officer_action_has_a_service() -> None:
    assert set(OFFICER_SERVICES) == set(OFFICER_TRANSITIONS)


@pytest.mark.parametrize("action", sorted(OFFICER_TRANSITIONS))
@pytest.mark.parametrize("status", Officer.Status.values)
def test_officer_decisions_follow_the_transition_table(admin, action, status) -> None:
    officer = ready_officer(admin=admin)
    Officer.objects.filter(pk=officer.pk).update(status=status)
    officer.refresh_from_db()
    transition = OFFICER_TRANSITIONS[action]
    mark = audit_mark()

    if status in transition.sources:
        OFFICER_SERVICES[action](officer, admin)
        officer.refresh_from_db()
        assert officer.status == transition.target
        assert actions_since(mark)[0].startswith("officer.")
    else:
        with pytest.raises(VettingRefused):
            OFFICER_SERVICES[action](officer, admin)
        officer.refresh_from_db()
        assert officer.status == status
        assert actions_since(mark) == []


KEY_SERVICES = {
    ("signing_key", "approve"): lambda key, actor: vetting.signing_key_approve(
        key=key, actor=actor, fingerprint_confirmed=True
    ),
    ("signing_key", "reject"): lambda key, actor: vetting.signing_key_reject(
        key=key, actor=actor, reason="Reason."
    ),
    ("signing_key", "revoke"): lambda key, actor: vetting.signing_key_revoke(
        key=key, actor=actor, reason="Reason."
    ),
    ("signing_passkey", "approve"): lambda key, actor: vetting.signing_passkey_approve(
        key=key, actor=actor, fingerprint_confirmed=True
    ),
    ("signing_passkey", "reject"): lambda key, actor: vetting.signing_passkey_reject(
        key=key, actor=actor, reason="Reason."
    ),
    ("signing_passkey", "revoke"): lambda key, actor: vetting.signing_passkey_revoke(
        key=key, actor=actor, reason="Reason."
    ),
    ("age_recipient", "approve"): lambda key, actor: vetting.age_recipient_approve(
        recipient=key, actor=actor, fingerprint_confirmed=True
    ),
    ("age_recipient", "reject"): lambda key, actor: vetting.age_recipient_reject(
        recipient=key, actor=actor, reason="Reason."
    ),
    ("age_recipient", "revoke"): lambda key, actor: vetting.age_recipient_revoke(
        recipient=key, actor=actor, reason="Reason."
    ),
}


def test_every_key_action_has_a_service() -> None:
    assert {action for _, action in KEY_SERVICES} == set(KEY_TRANSITIONS)


KEY_MAKERS = {
    "signing_key": make_signing_key,
    "signing_passkey": make_pending_passkey,
    "age_recipient": make_age_recipient,
}


@pytest.mark.parametrize("entity", sorted(KEY_MAKERS))
@pytest.mark.parametrize("action", sorted(KEY_TRANSITIONS))
@pytest.mark.parametrize("status", KeyStatus.values)
def test_key_decisions_follow_the_transition_table(admin, entity, action, status) -> None:
    key = KEY_MAKERS[entity](officer=make_officer(), status=status)
    transition = KEY_TRANSITIONS[action]
    mark = audit_mark()

    if status in transition.sources:
        KEY_SERVICES[(entity, action)](key, admin)
        key.refresh_from_db()
        assert key.status == transition.target
        assert actions_since(mark)[-1].startswith(f"{entity}.")
    else:
        with pytest.raises(VettingRefused):
            KEY_SERVICES[(entity, action)](key, admin)
        key.refresh_from_db()
        assert key.status == status
        assert actions_since(mark) == []


@pytest.mark.parametrize(
    "decide",
    [
        lambda admin: vetting.agency_reject(
            agency=make_agency(status="pending"), actor=admin, reason=" "
        ),
        lambda admin: vetting.agency_suspend(agency=make_agency(), actor=admin, reason=""),
        lambda admin: vetting.officer_reject(
            officer=make_officer(status="pending"), actor=admin, reason="\n"
        ),
        lambda admin: vetting.officer_suspend(officer=make_officer(), actor=admin, reason=""),
        lambda admin: vetting.signing_key_revoke(
            key=make_signing_key(officer=make_officer(), status="active"), actor=admin, reason=""
        ),
        lambda admin: vetting.age_recipient_revoke(
            recipient=make_age_recipient(officer=make_officer(), status="active"),
            actor=admin,
            reason="",
        ),
        lambda admin: vetting.signing_passkey_revoke(
            key=make_pending_passkey(officer=make_officer(), status="active"),
            actor=admin,
            reason="",
        ),
    ],
    ids=[
        "agency reject",
        "agency suspend",
        "officer reject",
        "officer suspend",
        "key revoke",
        "recipient revoke",
        "passkey revoke",
    ],
)
def test_a_reason_is_required_for_every_reject_suspend_and_revoke(admin, decide) -> None:
    mark = audit_mark()
    with pytest.raises(VettingRefused, match="Give a reason"):
        decide(admin)
    assert actions_since(mark) == []


def test_a_key_whose_stored_id_does_not_match_its_public_key_is_not_approved(admin) -> None:
    key = make_signing_key(officer=make_officer())
    SigningKey.objects.filter(pk=key.pk).update(key_id="ed25519:" + "0" * 64)
    key.refresh_from_db()

    with pytest.raises(VettingRefused, match="does not match"):
        vetting.signing_key_approve(key=key, actor=admin, fingerprint_confirmed=True)

    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING


# --- Passkeys that sign ---------------------------------------------------------------


def test_the_passkey_page_shows_owner_key_id_and_the_public_key_fingerprint(admin_client) -> None:
    key = make_pending_passkey(officer=make_officer(full_name="Pia Passkey"))

    page = admin_client.get(f"/vetting/signing-passkeys/{key.pk}/").content.decode()

    groups = fingerprint_groups(key.public_key_sha256).split()
    assert len(groups) == 16
    assert "".join(f"<li><code>{group}</code></li>" for group in groups) in page
    assert key.key_id in page
    assert "Pia Passkey" in page
    assert "Approve the passkey" in page


def test_a_removed_passkey_cannot_be_approved_and_stays_pending(admin) -> None:
    key = make_pending_passkey(officer=make_officer())
    key.credential.delete()
    key.refresh_from_db()
    mark = audit_mark()

    with pytest.raises(VettingRefused, match="removed this passkey"):
        vetting.signing_passkey_approve(key=key, actor=admin, fingerprint_confirmed=True)

    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING
    assert actions_since(mark) == []


def test_a_passkey_whose_public_key_no_longer_matches_its_fingerprint_is_not_approved(
    admin,
) -> None:
    key = make_pending_passkey(officer=make_officer())
    SigningPasskey.objects.filter(pk=key.pk).update(public_key_sha256="0" * 64)
    key.refresh_from_db()

    with pytest.raises(VettingRefused, match="does not match"):
        vetting.signing_passkey_approve(key=key, actor=admin, fingerprint_confirmed=True)

    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING


def test_a_pending_officers_passkey_waits_and_the_officer_is_approved_first(
    admin_client, admin
) -> None:
    officer = ready_officer(admin=admin)
    key = make_pending_passkey(officer=officer)

    officer_page = admin_client.get(f"/vetting/officers/{officer.pk}/").content.decode()
    assert f"/vetting/signing-passkeys/{key.pk}/" in officer_page
    refused = admin_client.post(
        f"/vetting/signing-passkeys/{key.pk}/approve/", {"fingerprint_confirmed": "on"}
    )
    assert refused.status_code == 409
    assert "The officer is not active" in refused_page(refused)
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING

    assert admin_client.post(f"/vetting/officers/{officer.pk}/approve/").status_code == 302
    approved = admin_client.post(
        f"/vetting/signing-passkeys/{key.pk}/approve/", {"fingerprint_confirmed": "on"}
    )
    assert approved.status_code == 302
    key.refresh_from_db()
    assert (key.status, key.decided_by) == (KeyStatus.ACTIVE, admin)


def test_revoking_a_passkey_keeps_it_and_its_login_and_records_who(admin_client, admin) -> None:
    key = make_pending_passkey(officer=make_officer(), status=KeyStatus.ACTIVE)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/signing-passkeys/{key.pk}/revoke/", {"reason": "Officer says not theirs."}
    )

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.status, key.revoked_by, key.reason) == (
        KeyStatus.REVOKED,
        admin,
        "Officer says not theirs.",
    )
    assert key.credential is not None  # still a login factor; the officer removes it
    events = audit_since(mark)
    assert [e.action for e in events] == ["signing_passkey.revoked"]
    assert events[0].data["key_id"] == key.key_id


# --- Two administrators at once (PostgreSQL row locks) ---------------------------------


@pytest.mark.services
def test_a_second_admin_waits_for_the_first_and_is_refused_if_the_decision_no_longer_applies(
    postgres, transactional_db
) -> None:
    first_admin = make_vetting_admin()
    second_admin = make_vetting_admin()
    officer = ready_officer(admin=first_admin)
    locked, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first_rejects() -> None:
        try:
            with transaction.atomic():
                Agency.objects.select_for_update().get(pk=officer.agency_id)
                Officer.objects.select_for_update().get(pk=officer.pk)
                locked.set()
                release.wait(10)
                vetting.officer_reject(officer=officer, actor=first_admin, reason="Impostor.")
        finally:
            connection.close()

    def second_approves() -> None:
        try:
            vetting.officer_approve(officer=officer, actor=second_admin)
            outcome["second"] = "approved"
        except VettingRefused as refused:
            outcome["second"] = refused.problems
        finally:
            connection.close()

    first = threading.Thread(target=first_rejects)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=second_approves)
    second.start()
    time.sleep(0.5)
    assert second.is_alive(), "the second decision must wait for the row lock"
    release.set()
    first.join(10)
    second.join(10)

    officer.refresh_from_db()
    assert officer.status == Officer.Status.REJECTED
    assert outcome["second"] != "approved"
    assert AuditEvent.objects.filter(action="officer.approved").count() == 0
    assert AuditEvent.objects.filter(action="officer.rejected").count() == 1
