"""Agency supervisors: vetted like officers, they answer for their agency's officers.

Each boundary is tried as an attack and checked twice: the attempt is refused, and
nothing was stored (no status change, no row, no audit event, no mail).
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import (
    ApiToken,
    KeyStatus,
    Officer,
    OfficerVouch,
    Role,
    SigningKey,
    User,
)
from accounts.services import vetting
from accounts.services.supervision import officer_suspend_by_supervisor, officer_vouch
from accounts.services.vetting import VettingRefused
from tests.audit_marks import actions_since, audit_mark, audit_since
from tests.factories import (
    log_in,
    mailbox_link_path,
    make_age_recipient,
    make_agency,
    make_api_token,
    make_callback,
    make_officer,
    make_passkey,
    make_signing_key,
    make_supervisor,
    make_user,
    make_vetting_admin,
    registration_form,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_vetting_admin(full_name="Vera Vetting", email="vera@platform.example")


@pytest.fixture
def agency():
    return make_agency(name="Polizei Köln", domain="polizei-koeln.example")


@pytest.fixture
def supervisor(agency):
    return make_supervisor(agency=agency, full_name="Sabine Supervisor")


def browser(user: User) -> Client:
    """A browser logged in as ``user`` (password and TOTP)."""
    client = Client()
    log_in(client, user)
    return client


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return browser(supervisor.user)


def vetting_admin_addresses() -> list[str]:
    return sorted(
        User.objects.filter(role=Role.VETTING_ADMIN, is_active=True).values_list("email", flat=True)
    )


def lands_on_login(client: Client, url: str = "/account/factors/") -> bool:
    response = client.get(url)
    return response.status_code == 302 and response["Location"].startswith("/login/")


def stored_state() -> dict:
    """Everything a supervisor's act could change."""
    return {
        "officers": list(
            Officer.objects.order_by("pk").values_list("pk", "status", "status_reason")
        ),
        "roles": list(User.objects.order_by("pk").values_list("pk", "role")),
        "vouches": OfficerVouch.objects.count(),
        "keys": list(SigningKey.objects.order_by("pk").values_list("pk", "status")),
        "tokens": list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
    }


# --- Becoming a supervisor -----------------------------------------------------------------


def test_registering_as_supervisor_gives_the_role_and_vetting_approves_it_like_an_officer(
    client, admin, agency, mailoutbox, django_capture_on_commit_callbacks
):
    form = registration_form(agency=agency, as_supervisor="on")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/register/", form)
    assert answer.status_code == 302, answer.content
    user = User.objects.get(email=form["email"])
    assert user.role == Role.SUPERVISOR
    record = user.officer
    assert record.supervisor_proposed_at is not None
    registered = audit_since(0)[-1]
    assert (registered.action, registered.data["after"]["role"]) == (
        "officer.registered",
        "supervisor",
    )
    # The mailbox link and the onboarding page work as for an officer.
    path = mailbox_link_path(mailoutbox[-1])
    client.post(path, {"password": form["password1"]})
    record.refresh_from_db()
    assert record.status == Officer.Status.PENDING

    # A supervisor's vouch never stands in for a supervisor's own callback.
    colleague = make_supervisor(agency=agency)
    make_passkey(user)
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    OfficerVouch.objects.create(officer=record, supervisor=colleague)
    with pytest.raises(VettingRefused):
        vetting.officer_approve(officer=record, actor=admin)
    make_callback(agency=agency, officer=record, called_by=admin)
    vetting.officer_approve(officer=record, actor=admin)
    record.refresh_from_db()
    assert record.status == Officer.Status.ACTIVE

    # Approved, they see the agency's pages and not the officer's.
    their = browser(user)
    assert their.get("/agency/officers/").status_code == 200
    assert their.get("/agency/requests/").status_code == 200
    assert their.get("/requests/mine/").status_code == 403
    assert their.get("/requests/new/").status_code == 403


def test_a_pending_supervisor_sees_only_their_status_page(agency):
    record = make_supervisor(agency=agency, status=Officer.Status.PENDING)
    their = browser(record.user)
    response = their.get("/agency/requests/")
    assert response.status_code == 302
    assert response["Location"] == "/account/status/"
    assert their.get("/account/status/").status_code == 200


def test_an_administrator_proposes_and_appoints_a_supervisor_after_a_new_callback(
    client, admin, agency, mailoutbox, django_capture_on_commit_callbacks
):
    officer = make_officer(agency=agency)
    make_callback(agency=agency, officer=officer, called_by=admin)  # before the proposal
    _, secret = make_api_token(officer=officer)
    log_in(client, admin)

    assert client.get(f"/vetting/officers/{officer.pk}/supervisor/propose/").status_code == 200
    response = client.post(
        f"/vetting/officers/{officer.pk}/supervisor/propose/",
        {"reason": "Head of the cybercrime unit, named by the agency's letter of 2 May."},
    )
    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.supervisor_proposed_by == admin
    assert officer in (client.get("/vetting/").context["queue"].supervisor_proposals)

    page = client.get(f"/vetting/officers/{officer.pk}/").content.decode()
    assert "since they were proposed as supervisor" in page
    assert f"/vetting/officers/{officer.pk}/supervisor/appoint/" not in page
    # The callback made before the proposal does not confirm the new role.
    mark = audit_mark()
    refused = client.post(f"/vetting/officers/{officer.pk}/supervisor/appoint/")
    assert refused.status_code == 409
    assert User.objects.get(pk=officer.user_id).role == Role.OFFICER
    assert actions_since(mark) == []

    make_callback(agency=agency, officer=officer, called_by=admin, note="HR: heads the unit")
    page = client.get(f"/vetting/officers/{officer.pk}/").content.decode()
    assert f"/vetting/officers/{officer.pk}/supervisor/appoint/" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/vetting/officers/{officer.pk}/supervisor/appoint/")
    assert response.status_code == 302
    assert User.objects.get(pk=officer.user_id).role == Role.SUPERVISOR
    assert actions_since(mark) == ["officer.supervisor_appointed", "api_token.revoked"]
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert mailoutbox[-1].to == [officer.user.email]


@pytest.mark.parametrize("role", ["supervisor", "officer", "reviewer"])
def test_nobody_but_a_vetting_administrator_proposes_or_appoints_a_supervisor(agency, role):
    officer = make_officer(agency=agency)
    actor = {
        "supervisor": lambda: make_supervisor(agency=agency).user,
        "officer": lambda: make_officer(agency=agency).user,
        "reviewer": lambda: make_user(role=Role.REVIEWER),
    }[role]()
    attacker = browser(actor)
    before, mark = stored_state(), audit_mark()

    for action in ("propose", "appoint", "withdraw"):
        response = attacker.post(
            f"/vetting/officers/{officer.pk}/supervisor/{action}/", {"reason": "me"}
        )
        assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        vetting.supervisor_propose(officer=officer, actor=actor, reason="me")

    assert stored_state() == before
    assert actions_since(mark) == []
    officer.refresh_from_db()
    assert officer.supervisor_proposed_at is None


# --- Suspending an officer -------------------------------------------------------------------


def test_a_suspension_takes_effect_on_the_officers_next_page_and_api_call(
    agency, supervisor, supervisor_client, admin, mailoutbox, django_capture_on_commit_callbacks
):
    officer = make_officer(agency=agency, full_name="Otto Officer")
    make_passkey(officer.user)
    officer_browser = browser(officer.user)
    assert officer_browser.get("/requests/mine/").status_code == 200
    token, secret = make_api_token(officer=officer)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    mark = audit_mark()

    page = supervisor_client.get(f"/agency/officers/{officer.pk}/suspend/")
    assert page.status_code == 200
    assert "Otto Officer" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            f"/agency/officers/{officer.pk}/suspend/", {"reason": "Laptop stolen on 3 May."}
        )

    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.SUSPENDED
    # The officer's next page and next API call are refused.
    assert lands_on_login(officer_browser, "/requests/mine/")
    assert officer_browser.get("/api/v1/submissions").status_code == 401
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    token.refresh_from_db()
    assert token.revoked_by == supervisor.user
    # Audited, with who did it.
    events = audit_since(mark)
    assert [e.action for e in events] == ["officer.suspended", "api_token.revoked"]
    assert events[0].actor == supervisor.user
    assert events[0].data["by_supervisor"] == supervisor.pk
    assert events[0].data["reason"] == "Laptop stolen on 3 May."
    # The platform's vetting administrators are told at once, each in a mail of their own
    # (written in their own language).
    assert sorted(address for notice in mailoutbox for address in notice.to) == (
        vetting_admin_addresses()
    )
    assert all(len(notice.to) == 1 for notice in mailoutbox)
    (notice,) = [notice for notice in mailoutbox if notice.to == [admin.email]]
    assert "Otto Officer" in notice.body
    assert "Laptop stolen" in notice.body
    # And the vetting page shows what the supervisor did.
    admin_browser = browser(admin)
    officer_page = admin_browser.get(f"/vetting/officers/{officer.pk}/").content.decode()
    assert "suspended the officer" in officer_page


@pytest.mark.parametrize("whom", ["another agency's officer", "a fellow supervisor"])
def test_a_supervisor_cannot_suspend_outside_their_agency_or_a_supervisor(
    agency, supervisor, supervisor_client, whom, mailoutbox
):
    target = (
        make_officer(agency=make_agency())
        if whom == "another agency's officer"
        else make_supervisor(agency=agency)
    )
    before, mark = stored_state(), audit_mark()

    assert supervisor_client.get(f"/agency/officers/{target.pk}/suspend/").status_code == 404
    response = supervisor_client.post(
        f"/agency/officers/{target.pk}/suspend/", {"reason": "a takeover"}
    )

    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        officer_suspend_by_supervisor(officer=target, actor=supervisor.user, reason="a takeover")
    assert stored_state() == before
    assert actions_since(mark) == []
    assert mailoutbox == []


@pytest.mark.parametrize("who", ["officer", "suspended supervisor", "reviewer"])
def test_only_an_active_supervisor_reaches_the_agency_pages(agency, who):
    officer = make_officer(agency=agency)
    if who == "officer":
        actor = make_officer(agency=agency).user
    elif who == "reviewer":
        actor = make_user(role=Role.REVIEWER)
    else:
        record = make_supervisor(agency=agency)
        actor = record.user
        attacker = browser(actor)
        Officer.objects.filter(pk=record.pk).update(status=Officer.Status.SUSPENDED)
        before, mark = stored_state(), audit_mark()
        response = attacker.post(f"/agency/officers/{officer.pk}/suspend/", {"reason": "x"})
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
        assert stored_state() == before
        assert actions_since(mark) == []
        return
    attacker = browser(actor)
    before, mark = stored_state(), audit_mark()
    for url in ("/agency/officers/", "/agency/keys/", "/agency/requests/"):
        assert attacker.get(url).status_code == 403
    response = attacker.post(f"/agency/officers/{officer.pk}/suspend/", {"reason": "x"})
    assert response.status_code == 403
    assert stored_state() == before
    assert actions_since(mark) == []


def test_suspending_needs_a_reason_and_an_active_officer(agency, supervisor, supervisor_client):
    pending = make_officer(agency=agency, status=Officer.Status.PENDING)
    active = make_officer(agency=agency)
    before, mark = stored_state(), audit_mark()

    no_reason = supervisor_client.post(f"/agency/officers/{active.pk}/suspend/", {"reason": " "})
    not_active = supervisor_client.post(f"/agency/officers/{pending.pk}/suspend/", {"reason": "x"})

    assert (no_reason.status_code, not_active.status_code) == (400, 409)
    assert 'role="alert"' in not_active.content.decode()
    assert stored_state() == before
    assert actions_since(mark) == []


# --- Asking the platform to reinstate ----------------------------------------------------------


def test_a_supervisor_asks_the_platform_to_reinstate_and_only_the_platform_does(
    agency, supervisor, supervisor_client, admin, mailoutbox, django_capture_on_commit_callbacks
):
    officer = make_officer(agency=agency, full_name="Otto Officer")
    officer_suspend_by_supervisor(officer=officer, actor=supervisor.user, reason="Laptop stolen.")
    mailoutbox.clear()
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(
            f"/agency/officers/{officer.pk}/reinstatement/", {"reason": "Laptop recovered."}
        )

    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.SUSPENDED  # the platform decides
    assert actions_since(mark) == ["officer.reinstatement_requested"]
    # Each vetting administrator gets a mail of their own, in their own language.
    assert sorted(address for notice in mailoutbox for address in notice.to) == (
        vetting_admin_addresses()
    )
    assert all("Laptop recovered." in notice.body for notice in mailoutbox)
    page = supervisor_client.get("/agency/officers/").content.decode()
    assert "You asked the platform on" in page

    # Asking twice is refused, and so is asking about an active officer.
    before, mark = stored_state(), audit_mark()
    again = supervisor_client.post(
        f"/agency/officers/{officer.pk}/reinstatement/", {"reason": "Please."}
    )
    active = make_officer(agency=agency)
    about_active = supervisor_client.post(
        f"/agency/officers/{active.pk}/reinstatement/", {"reason": "Please."}
    )
    assert (again.status_code, about_active.status_code) == (409, 409)
    assert actions_since(mark) == []
    # The platform reinstates with its own checks.
    make_callback(agency=agency, officer=officer, called_by=admin)
    make_passkey(officer.user)
    vetting.officer_reinstate(officer=officer, actor=admin, reason="Supervisor asked; called.")
    officer.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    del before


# --- Vouching ----------------------------------------------------------------------------------


def test_a_vouch_from_a_recently_called_supervisor_replaces_the_officers_callback(
    agency, supervisor, supervisor_client, admin
):
    newcomer = make_officer(agency=agency, status=Officer.Status.PENDING, full_name="Nina New")
    make_passkey(newcomer.user)
    with pytest.raises(VettingRefused):
        vetting.officer_approve(officer=newcomer, actor=admin)
    mark = audit_mark()

    listing = supervisor_client.get("/agency/officers/").content.decode()
    assert "Nina New" in listing
    refused = supervisor_client.post(f"/agency/officers/{newcomer.pk}/vouch/", {"note": "x"})
    assert refused.status_code == 400  # the statement must be confirmed
    response = supervisor_client.post(
        f"/agency/officers/{newcomer.pk}/vouch/", {"confirm": "on", "note": "Unit 3 since 2019"}
    )

    assert response.status_code == 302
    assert actions_since(mark) == ["officer.vouched"]
    vouch = OfficerVouch.objects.get()
    assert (vouch.officer, vouch.supervisor) == (newcomer, supervisor)
    # The administrator sees who vouched and when, as evidence.
    page = browser(admin).get(f"/vetting/officers/{newcomer.pk}/").content.decode()
    assert "Vouched for by supervisor Sabine Supervisor" in page
    assert vouch.vouched_at.strftime("%Y-%m-%dT%H:%M") in page
    # The platform still approves, now without a callback of its own about the officer.
    vetting.officer_approve(officer=newcomer, actor=admin)
    newcomer.refresh_from_db()
    assert newcomer.status == Officer.Status.ACTIVE
    approved = audit_since(mark)[-1]
    assert approved.data["callback_id"] is None
    assert approved.data["vouch"]["supervisor_id"] == supervisor.pk


@pytest.mark.parametrize("why", ["old callback", "no callback", "suspended supervisor"])
def test_a_vouch_does_not_replace_the_callback_when_the_supervisor_is_not_trusted_now(
    agency, admin, settings, why
):
    settings.SUPERVISOR_VOUCH_CALLBACK_DAYS = 90
    supervisor = make_supervisor(
        agency=agency,
        callback_days_ago={"old callback": 91, "no callback": None}.get(why, 1),
    )
    newcomer = make_officer(agency=agency, status=Officer.Status.PENDING)
    make_passkey(newcomer.user)
    officer_vouch(officer=newcomer, actor=supervisor.user)
    if why == "suspended supervisor":
        Officer.objects.filter(pk=supervisor.pk).update(status=Officer.Status.SUSPENDED)
    mark = audit_mark()

    with pytest.raises(VettingRefused):
        vetting.officer_approve(officer=newcomer, actor=admin)

    newcomer.refresh_from_db()
    assert newcomer.status == Officer.Status.PENDING
    assert actions_since(mark) == []


def test_the_vouch_window_is_a_setting(agency, admin, settings):
    supervisor = make_supervisor(agency=agency, callback_days_ago=20)
    newcomer = make_officer(agency=agency, status=Officer.Status.PENDING)
    make_passkey(newcomer.user)
    officer_vouch(officer=newcomer, actor=supervisor.user)
    settings.SUPERVISOR_VOUCH_CALLBACK_DAYS = 14
    with pytest.raises(VettingRefused):
        vetting.officer_approve(officer=newcomer, actor=admin)
    settings.SUPERVISOR_VOUCH_CALLBACK_DAYS = 30
    vetting.officer_approve(officer=newcomer, actor=admin)


@pytest.mark.parametrize("whom", ["another agency's registration", "an active officer", "twice"])
def test_a_supervisor_cannot_vouch_outside_a_waiting_registration_of_their_agency(
    agency, supervisor, supervisor_client, whom
):
    if whom == "another agency's registration":
        target = make_officer(agency=make_agency(), status=Officer.Status.PENDING)
    elif whom == "an active officer":
        target = make_officer(agency=agency)
    else:
        target = make_officer(agency=agency, status=Officer.Status.PENDING)
        officer_vouch(officer=target, actor=supervisor.user)
    before, mark = stored_state(), audit_mark()

    response = supervisor_client.post(f"/agency/officers/{target.pk}/vouch/", {"confirm": "on"})

    assert response.status_code == (404 if whom.startswith("another") else 409)
    assert stored_state() == before
    assert actions_since(mark) == []


# --- Keys and tokens ---------------------------------------------------------------------------


def test_a_supervisor_sees_and_revokes_the_agencys_keys_and_tokens(
    agency, supervisor, supervisor_client
):
    officer = make_officer(agency=agency)
    key = make_signing_key(officer=officer, status=KeyStatus.ACTIVE)
    recipient = make_age_recipient(officer=officer, status=KeyStatus.PENDING)
    agency_recipient = make_age_recipient(agency=agency, status=KeyStatus.ACTIVE)
    token, secret = make_api_token(officer=officer)
    stranger_key = make_signing_key(officer=make_officer(), status=KeyStatus.ACTIVE)

    page = supervisor_client.get("/agency/keys/").content.decode()
    for shown in (key.key_id, recipient.recipient, agency_recipient.recipient, token.prefix):
        assert shown in page
    assert stranger_key.key_id not in page
    mark = audit_mark()

    for url, reason in (
        (f"/agency/keys/signing-keys/{key.pk}/revoke/", "Laptop stolen."),
        (f"/agency/keys/age-recipients/{recipient.pk}/revoke/", "Not ours."),
        (f"/agency/keys/age-recipients/{agency_recipient.pk}/revoke/", "Desk closed."),
        (f"/agency/tokens/{token.pk}/revoke/", "Case system retired."),
    ):
        assert supervisor_client.get(url).status_code == 200
        assert supervisor_client.post(url, {"reason": reason}).status_code == 302

    for item in (key, recipient, agency_recipient):
        item.refresh_from_db()
        assert (item.status, item.revoked_by) == (KeyStatus.REVOKED, supervisor.user)
    token.refresh_from_db()
    assert token.revoked_by == supervisor.user
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    events = audit_since(mark)
    assert [e.action for e in events] == [
        "signing_key.revoked",
        "age_recipient.revoked",
        "age_recipient.revoked",
        "api_token.revoked",
    ]
    assert {e.actor_id for e in events} == {supervisor.user_id}
    assert events[-1].data["reason"] == "Case system retired."


def test_a_supervisor_cannot_revoke_another_agencys_keys_or_tokens(supervisor, supervisor_client):
    stranger = make_officer()
    key = make_signing_key(officer=stranger, status=KeyStatus.ACTIVE)
    token, _ = make_api_token(officer=stranger)
    before, mark = stored_state(), audit_mark()

    for url in (
        f"/agency/keys/signing-keys/{key.pk}/revoke/",
        f"/agency/tokens/{token.pk}/revoke/",
    ):
        assert supervisor_client.get(url).status_code == 404
        assert supervisor_client.post(url, {"reason": "sabotage"}).status_code == 404

    assert stored_state() == before
    assert actions_since(mark) == []


def test_a_supervisor_cannot_approve_a_key(agency, supervisor, supervisor_client):
    officer = make_officer(agency=agency)
    key = make_signing_key(officer=officer, status=KeyStatus.PENDING)
    recipient = make_age_recipient(officer=officer, status=KeyStatus.PENDING)
    before, mark = stored_state(), audit_mark()

    assert "/approve/" not in supervisor_client.get("/agency/keys/").content.decode()
    for url in (
        f"/vetting/signing-keys/{key.pk}/approve/",
        f"/vetting/age-recipients/{recipient.pk}/approve/",
    ):
        response = supervisor_client.post(url, {"fingerprint_confirmed": "on"})
        assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        vetting.signing_key_approve(key=key, actor=supervisor.user, fingerprint_confirmed=True)

    recipient.refresh_from_db()
    assert recipient.status == KeyStatus.PENDING
    assert stored_state() == before
    assert actions_since(mark) == []


def test_an_appointed_supervisor_keeps_their_recipients_but_signs_nothing(agency, admin):
    officer = make_officer(agency=agency)
    key = make_signing_key(officer=officer, status=KeyStatus.ACTIVE)
    vetting.supervisor_propose(officer=officer, actor=admin, reason="Named by the agency.")
    make_callback(
        agency=agency,
        officer=officer,
        called_by=admin,
        called_at=timezone.now() + timedelta(seconds=1),
    )
    vetting.supervisor_appoint(officer=officer, actor=admin)
    key.refresh_from_db()
    assert key.status == KeyStatus.ACTIVE  # kept: old signatures stay explainable
    their = browser(officer.user)
    # The API refuses a supervisor's session as a submitter.
    assert their.get("/api/v1/submissions").status_code == 403
    assert their.get("/account/tokens/").status_code == 403
