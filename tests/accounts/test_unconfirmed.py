"""Registrations whose mailbox was never confirmed hold nothing against anyone (issue #3).

Domain squatting: a proposal nobody confirmed, or a rejected agency, does not own its
domain or name. Address squatting: the mailbox's owner discards a registration made with
their address, and registrations whose links expired are purged. Attack tests check the
refusal or the release and that nothing else was stored, changed or granted.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.domains import domain_owner
from accounts.models import Agency, AgencyDomain, Officer, User
from accounts.selectors import vetting_queue
from accounts.services.unconfirmed import registrations_expired_purge
from accounts.tasks import registrations_expired_purge_task
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from tests.audit_marks import actions_since, audit_mark
from tests.factories import (
    PASSWORD,
    log_in,
    mailbox_link_path,
    make_agency,
    make_callback,
    make_vetting_admin,
    registration_form,
)

pytestmark = pytest.mark.django_db

SQUATTER_PASSWORD = "mallory's own long passphrase"
LINK_HOURS = settings.MAILBOX_LINK_HOURS


def proposal(**fields) -> dict[str, str]:
    data = {
        "agency": "new",
        "email": "anna@polizei.example",
        "new_agency_name": "Polizei Musterstadt",
        "new_agency_country": "DE",
        "new_agency_kind": "police",
        "new_agency_domain": "polizei.example",
        "new_agency_phone": "+49 30 901820",
    }
    data.update(fields)
    return registration_form(**data)


def squat(submit, form: dict) -> Officer:
    """Register with someone else's address and the squatter's own password."""
    form = {**form, "password1": SQUATTER_PASSWORD, "password2": SQUATTER_PASSWORD}
    response = submit("/register/", form)
    assert response.status_code == 302, response.content.decode()
    return Officer.objects.select_related("user", "agency").get(user__email=form["email"])


def last_mail_to(address: str):
    return [message for message in mail.outbox if message.to == [address]][-1]


def discard_link_path(message) -> str:
    return mailbox_link_path(message).replace("/register/verify/", "/register/discard/")


def make_old(officer: Officer, *, hours: int) -> None:
    Officer.objects.filter(pk=officer.pk).update(created_at=timezone.now() - timedelta(hours=hours))


def assert_parked(user: User, *, was: str) -> None:
    user.refresh_from_db()
    assert user.email != was
    assert user.email.endswith("@discarded.invalid")
    assert user.is_active is False
    assert not user.has_usable_password()
    assert not Officer.objects.filter(user=user).exists()


# --- Domain squatting: an unproven or rejected claim owns nothing ------------------------------


def test_an_unconfirmed_proposal_does_not_block_the_real_agency(client, submit) -> None:
    squatter = squat(submit, proposal(email="chief@polizei.example"))
    squatter_link = mailbox_link_path(last_mail_to("chief@polizei.example"))
    mark = audit_mark()

    response = submit("/register/", proposal(email="anna@polizei.example"))

    assert response.status_code == 302, response.content.decode()
    agency = Agency.objects.get(domains__domain="polizei.example")
    assert agency.pk != squatter.agency.pk
    assert agency.proposed_by.email == "anna@polizei.example"
    assert not Agency.objects.filter(pk=squatter.agency.pk).exists()
    assert not Officer.objects.filter(pk=squatter.pk).exists()
    assert_parked(squatter.user, was="chief@polizei.example")
    assert actions_since(mark) == [
        "registration.discarded",
        "agency.proposed",
        "officer.registered",
    ]
    discarded = AuditEvent.objects.get(action="registration.discarded")
    assert discarded.data["reason"] == "displaced"
    assert discarded.data["email"] == "chief@polizei.example"
    assert (discarded.data["agency"], discarded.data["domains"]) == ("deleted", ["polizei.example"])
    # the squatter's link now leads nowhere
    refused = client.get(squatter_link)
    assert refused.status_code == 400
    assert "This registration no longer exists" in refused.content.decode()
    assert audit_chain_verify().ok


def test_a_proposal_whose_mailbox_was_confirmed_still_blocks_a_second_one(submit) -> None:
    first = squat(submit, proposal(email="anna@polizei.example"))
    link = mailbox_link_path(last_mail_to("anna@polizei.example"))
    assert submit(link, {"password": SQUATTER_PASSWORD}).status_code == 302
    counts = (User.objects.count(), Officer.objects.count(), Agency.objects.count())
    mark = audit_mark()
    mail.outbox.clear()

    response = submit("/register/", proposal(email="ben@polizei.example"))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "waiting for verification" in str(errors["new_agency_domain"])
    assert "already known" in str(errors["new_agency_name"])
    assert (User.objects.count(), Officer.objects.count(), Agency.objects.count()) == counts
    assert actions_since(mark) == []
    assert mail.outbox == []
    assert domain_owner("polizei.example").agency == first.agency


def test_the_real_proposer_wins_a_displacement_by_registering_again(client, submit) -> None:
    """Whoever proves a mailbox holds the claim: a squatter can annoy, never win."""
    real = squat(submit, proposal(email="anna@polizei.example"))
    squat(submit, proposal(email="mallory@polizei.example"))
    assert not Officer.objects.filter(pk=real.pk).exists()  # displaced

    response = submit("/register/", proposal(email="anna@polizei.example"))
    assert response.status_code == 302, response.content.decode()
    confirmed = submit(
        mailbox_link_path(last_mail_to("anna@polizei.example")), {"password": PASSWORD}
    )

    assert confirmed.status_code == 302
    officer = Officer.objects.get(user__email="anna@polizei.example")
    assert officer.status == Officer.Status.PENDING
    assert not User.objects.filter(email="mallory@polizei.example").exists()
    assert domain_owner("polizei.example").agency == officer.agency
    assert [agency.pk for agency in vetting_queue(user=make_vetting_admin()).agencies] == [
        officer.agency.pk
    ]


def test_a_rejected_agency_gives_up_its_domain_and_name_to_a_new_proposal(submit) -> None:
    rejected = make_agency(
        name="Polizei Musterstadt", status=Agency.Status.REJECTED, domain="polizei.example"
    )
    mark = audit_mark()

    response = submit("/register/", proposal())

    assert response.status_code == 302, response.content.decode()
    new = Agency.objects.get(domains__domain="polizei.example")
    assert new.name == "Polizei Musterstadt"
    assert new.status == Agency.Status.PENDING
    rejected.refresh_from_db()
    assert rejected.status == Agency.Status.REJECTED
    assert rejected.name == f"Polizei Musterstadt [released #{rejected.pk}]"
    assert not rejected.domains.exists()
    assert actions_since(mark) == [
        "agency.claims_released",
        "agency.proposed",
        "officer.registered",
    ]
    released = AuditEvent.objects.get(action="agency.claims_released")
    assert released.target_id == str(rejected.pk)
    assert released.data["before"] == {"domain": "polizei.example", "name": "Polizei Musterstadt"}


def test_the_refusal_for_a_verified_agencys_domain_is_unchanged(submit, police) -> None:
    before = (Agency.objects.count(), AgencyDomain.objects.count(), User.objects.count())

    response = submit(
        "/register/", proposal(email="anna@police.example", new_agency_domain="police.example")
    )

    assert response.status_code == 400
    assert "choose it from the list" in str(response.context["form"].errors["new_agency_domain"])
    assert (Agency.objects.count(), AgencyDomain.objects.count(), User.objects.count()) == before


def test_the_vetting_queue_shows_a_proposal_only_once_its_mailbox_is_confirmed(submit) -> None:
    officer = squat(submit, proposal())
    admin = make_vetting_admin()
    admin_client = Client()
    log_in(admin_client, admin)

    assert "Polizei Musterstadt" not in admin_client.get("/vetting/").content.decode()
    assert vetting_queue(user=admin).agencies == []

    link = mailbox_link_path(last_mail_to("anna@polizei.example"))
    assert submit(link, {"password": SQUATTER_PASSWORD}).status_code == 302

    assert "Polizei Musterstadt" in admin_client.get("/vetting/").content.decode()
    assert vetting_queue(user=admin).agencies == [officer.agency]


def test_an_unconfirmed_proposal_cannot_be_verified_even_at_its_address(submit) -> None:
    """The queue hides it; an administrator who opens its page directly is refused too."""
    officer = squat(submit, proposal())
    admin = make_vetting_admin()
    admin_client = Client()
    log_in(admin_client, admin)
    agency = officer.agency
    make_callback(agency=agency, called_by=admin)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/verify/", {"number_source": "Official website."}
    )

    assert response.status_code == 409
    assert "Nobody at the agency has confirmed a mailbox" in response.content.decode()
    agency.refresh_from_db()
    assert agency.status == Agency.Status.PENDING
    assert actions_since(mark) == []


# --- Address squatting: "this was not me" ------------------------------------------------------


def test_the_mailbox_owner_discards_a_registration_made_with_their_address(
    client, submit, police
) -> None:
    squatter = squat(submit, registration_form(agency=police, email="anna@police.example"))
    message = last_mail_to("anna@police.example")
    discard = discard_link_path(message)
    assert discard in message.body
    mark = audit_mark()

    # The confirmation page offers it too.
    verify_page = client.get(mailbox_link_path(message)).content.decode()
    assert f'href="{discard}"' in verify_page
    # Opening the link (a mail filter scanning it, or the owner reading) changes nothing.
    page = client.get(discard)
    assert page.status_code == 200
    assert "anna@police.example" in page.content.decode()
    assert "Discard this registration" in page.content.decode()
    assert Officer.objects.filter(pk=squatter.pk).exists()
    assert actions_since(mark) == []

    response = submit(discard, {})

    assert response.status_code == 302
    assert response["Location"] == "/register/discarded/"
    assert "The registration is discarded" in client.get("/register/discarded/").content.decode()
    assert_parked(squatter.user, was="anna@police.example")
    assert police.officers.count() == 0
    Agency.objects.get(pk=police.pk)  # a verified agency is never part of a discard
    assert actions_since(mark) == ["registration.discarded"]
    event = AuditEvent.objects.get(action="registration.discarded")
    assert (event.actor, event.target_type, event.target_id) == (
        None,
        "accounts.officer",
        str(squatter.pk),
    )
    assert event.data["reason"] == "not_me"
    assert event.data["agency"] == "kept"

    # The owner registers with their own address and password and confirms it.
    mail.outbox.clear()
    assert (
        submit("/register/", registration_form(agency=police, email="anna@police.example"))[
            "Location"
        ]
        == "/register/mailbox/"
    )
    confirmed = submit(
        mailbox_link_path(last_mail_to("anna@police.example")), {"password": PASSWORD}
    )
    assert confirmed.status_code == 302
    assert Officer.objects.get(user__email="anna@police.example").status == Officer.Status.PENDING


def test_a_discard_link_works_once_and_never_after_the_mailbox_is_confirmed(
    client, submit, police
) -> None:
    first = squat(submit, registration_form(agency=police, email="anna@police.example"))
    discard = discard_link_path(last_mail_to("anna@police.example"))
    assert submit(discard, {}).status_code == 302
    mark = audit_mark()

    again = submit(discard, {})

    assert again.status_code == 400
    assert "This registration no longer exists" in again.content.decode()
    assert actions_since(mark) == ["officer.mailbox_link_refused"]
    assert_parked(first.user, was="anna@police.example")

    # A confirmed registration cannot be discarded by its old link.
    mail.outbox.clear()
    submit("/register/", registration_form(agency=police, email="anna@police.example"))
    message = last_mail_to("anna@police.example")
    submit(mailbox_link_path(message), {"password": PASSWORD})
    mark = audit_mark()

    refused = submit(discard_link_path(message), {})

    assert refused.status_code == 400
    assert "This link was already used" in refused.content.decode()
    officer = Officer.objects.get(user__email="anna@police.example")
    assert officer.status == Officer.Status.PENDING
    assert officer.user.is_active
    assert actions_since(mark) == ["officer.mailbox_link_refused"]


def test_a_tampered_discard_link_discards_nothing(submit, police) -> None:
    squatter = squat(submit, registration_form(agency=police, email="anna@police.example"))
    token = discard_link_path(last_mail_to("anna@police.example")).split("/")[3]
    mark = audit_mark()

    response = submit(f"/register/discard/{token[:-2]}xy/", {})

    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    assert Officer.objects.filter(pk=squatter.pk, status=Officer.Status.EMAIL_UNVERIFIED).exists()
    assert User.objects.get(pk=squatter.user.pk).email == "anna@police.example"
    assert actions_since(mark) == ["officer.mailbox_link_refused"]


def test_discarding_a_proposal_frees_its_domain_and_name(submit) -> None:
    squatter = squat(submit, proposal())

    assert submit(discard_link_path(last_mail_to("anna@polizei.example")), {}).status_code == 302

    assert not Agency.objects.filter(pk=squatter.agency.pk).exists()
    assert not AgencyDomain.objects.filter(domain="polizei.example").exists()
    event = AuditEvent.objects.get(action="registration.discarded")
    assert (event.data["agency"], event.data["agency_name"]) == ("deleted", "Polizei Musterstadt")
    assert submit("/register/", proposal(email="ben@polizei.example")).status_code == 302


# --- Address squatting: expiry ---------------------------------------------------------------


def test_registering_again_after_the_link_expired_replaces_the_unconfirmed_registration(
    submit, police
) -> None:
    squatter = squat(submit, registration_form(agency=police, email="anna@police.example"))
    make_old(squatter, hours=LINK_HOURS + 1)
    mark = audit_mark()
    mail.outbox.clear()

    response = submit("/register/", registration_form(agency=police, email="anna@police.example"))

    assert response.status_code == 302
    assert actions_since(mark) == ["registration.discarded", "officer.registered"]
    assert AuditEvent.objects.get(action="registration.discarded").data["reason"] == "expired"
    assert_parked(squatter.user, was="anna@police.example")
    user = User.objects.get(email="anna@police.example")
    assert user.check_password(PASSWORD)
    assert len(mail.outbox) == 1
    assert "/register/verify/" in mail.outbox[0].body


def test_registering_again_before_the_link_expired_only_notes_the_owner(submit, police) -> None:
    squatter = squat(submit, registration_form(agency=police, email="anna@police.example"))
    make_old(squatter, hours=LINK_HOURS - 1)
    mark = audit_mark()

    response = submit("/register/", registration_form(agency=police, email="anna@police.example"))

    assert response.status_code == 302
    assert actions_since(mark) == ["account.registration_repeated"]
    squatter.user.refresh_from_db()
    assert squatter.user.email == "anna@police.example"
    assert squatter.user.check_password(SQUATTER_PASSWORD)


def test_the_purge_discards_only_registrations_whose_every_link_expired(submit, police) -> None:
    expired = squat(submit, registration_form(agency=police, email="old@police.example"))
    make_old(expired, hours=LINK_HOURS + 2)
    resent = squat(submit, registration_form(agency=police, email="resent@police.example"))
    make_old(resent, hours=LINK_HOURS + 2)
    submit("/register/mailbox/", {"email": "resent@police.example"})  # a new link, alive
    fresh = squat(submit, registration_form(agency=police, email="fresh@police.example"))
    confirmed = squat(submit, registration_form(agency=police, email="done@police.example"))
    submit(mailbox_link_path(last_mail_to("done@police.example")), {"password": SQUATTER_PASSWORD})
    make_old(confirmed, hours=LINK_HOURS + 2)
    rejected = squat(submit, proposal(email="x@polizei.example"))
    make_old(rejected, hours=LINK_HOURS + 2)
    Officer.objects.filter(pk=rejected.pk).update(status=Officer.Status.REJECTED)
    mark = audit_mark()

    assert registrations_expired_purge_task() == 2

    assert set(Officer.objects.values_list("pk", flat=True)) == {resent.pk, fresh.pk, confirmed.pk}
    assert_parked(expired.user, was="old@police.example")
    assert_parked(rejected.user, was="x@polizei.example")
    assert not Agency.objects.filter(pk=rejected.agency.pk).exists()
    assert actions_since(mark) == ["registration.discarded", "registration.discarded"]
    assert {
        event.data["email"] for event in AuditEvent.objects.filter(action="registration.discarded")
    } == {"old@police.example", "x@polizei.example"}
    # safe to run twice
    assert registrations_expired_purge() == 0
    assert actions_since(mark) == ["registration.discarded", "registration.discarded"]
    assert audit_chain_verify().ok


def test_the_purge_closes_a_proposed_agency_that_something_refers_to(submit) -> None:
    squatter = squat(submit, proposal())
    make_callback(agency=squatter.agency, called_by=make_vetting_admin(), outcome="no_answer")
    make_old(squatter, hours=LINK_HOURS + 1)
    mark = audit_mark()

    assert registrations_expired_purge() == 1

    agency = Agency.objects.get(pk=squatter.agency.pk)
    assert agency.status == Agency.Status.REJECTED
    assert not agency.domains.exists()
    assert not Officer.objects.filter(pk=squatter.pk).exists()
    assert actions_since(mark) == ["agency.proposal_closed", "registration.discarded"]
    assert AuditEvent.objects.get(action="registration.discarded").data["agency"] == "closed"
    # the closed record no longer holds the domain or the name
    assert submit("/register/", proposal(email="ben@polizei.example")).status_code == 302


def test_the_purge_is_scheduled_with_celery_beat() -> None:
    from portal.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "accounts.tasks.registrations_expired_purge" in scheduled
    assert "accounts.tasks.registrations_expired_purge" in app.tasks
