"""Officer registration on the web and the mailbox link.

Attack tests check the refusal and that nothing was stored, sent or granted.
"""

import re
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail, signing
from django.core.exceptions import ValidationError

from accounts.models import Agency, AgencyDomain, Officer, Role, User
from accounts.services.registration import (
    LINKS_PER_OFFICER_PER_HOUR,
    MAILBOX_LINK_SALT,
    REGISTRATIONS_PER_ADDRESS_PER_HOUR,
    AgencyProposal,
    mailbox_token_make,
    mailbox_unconfirmed,
    officer_register,
)
from portal.audit import audit_append, audit_chain_verify
from portal.models import AuditEvent
from tests.factories import (
    PASSWORD,
    log_in,
    mailbox_link_path,
    make_agency,
    make_officer,
    make_user,
    registration_form,
)

pytestmark = pytest.mark.django_db

CYRILLIC_O = "\u043e"
LINK_SECONDS = settings.MAILBOX_LINK_HOURS * 3600


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def rows() -> tuple[int, int, int, int]:
    return (
        User.objects.count(),
        Officer.objects.count(),
        Agency.objects.count(),
        AgencyDomain.objects.count(),
    )


def proposal_form(**fields) -> dict[str, str]:
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


def registered(submit, agency) -> Officer:
    response = submit("/register/", registration_form(agency=agency))
    assert response.status_code == 302, response.content.decode()
    return Officer.objects.select_related("user").get(user__email="anna.schmidt@police.example")


def page(response) -> str:
    return response.content.decode()


# --- The page -------------------------------------------------------------------------------


def test_the_registration_page_lists_verified_agencies_by_country(client, police) -> None:
    make_agency(name="Parquet de Paris", country="FR", domain="justice.example")
    make_agency(name="Pending Police", country="DE", status=Agency.Status.PENDING)

    html = page(client.get("/register/"))

    assert '<optgroup label="Germany">' in html
    assert '<optgroup label="France">' in html
    assert f'<option value="{police.pk}">Landeskriminalamt Berlin</option>' in html
    assert "Parquet de Paris" in html
    assert "Pending Police" not in html
    assert '<option value="new">My agency is not listed: propose it</option>' in html


def test_the_registration_page_is_labelled_autocompleted_and_free_of_inline_code(
    client, police
) -> None:
    response = client.get("/register/")
    html = page(response)

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    for field in ("full_name", "title", "badge_number", "email", "password1", "password2"):
        assert f'<label for="id_{field}">' in html
    assert 'autocomplete="name"' in html
    assert 'autocomplete="organization-title"' in html
    assert 'autocomplete="username"' in html
    assert html.count('autocomplete="new-password"') == 2
    assert 'autocomplete="country"' in html
    assert 'autocomplete="tel"' in html
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html


def test_a_refused_form_has_an_alert_summary_and_marks_each_field(submit, police) -> None:
    response = submit(
        "/register/", registration_form(agency=police, email="anna@elsewhere.example")
    )
    html = page(response)

    assert response.status_code == 400
    assert 'role="alert"' in html
    assert '<a href="#id_email">' in html
    assert 'aria-invalid="true"' in html
    email_input = re.search(r'<input[^>]*id="id_email"[^>]*>', html)
    assert email_input is not None
    assert 'aria-describedby="id_email_helptext id_email_error"' in email_input.group()
    assert 'id="id_email_error"' in html
    assert "not on an official domain of Landeskriminalamt Berlin" in html
    assert "police.example" in html


# --- Registering --------------------------------------------------------------------------


def test_an_officer_of_a_verified_agency_registers_and_is_mailed_a_link(
    client, submit, police
) -> None:
    response = submit(
        "/register/", registration_form(agency=police, email="Anna.Schmidt@POLICE.example")
    )

    assert response.status_code == 302
    assert response["Location"] == "/register/mailbox/"
    user = User.objects.get()
    assert user.email == "anna.schmidt@police.example"
    assert user.role == Role.OFFICER
    assert user.check_password(PASSWORD)
    assert user.is_active is False  # no login before the mailbox is confirmed
    officer = user.officer
    assert officer.agency == police
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert officer.email_verified_at is None
    assert (officer.title, officer.badge_number) == ("Detective Inspector", "B-4711")
    assert actions() == ["officer.registered"]
    event = AuditEvent.objects.get()
    assert (event.actor, event.target_id) == (user, str(officer.pk))
    assert event.data["after"]["status"] == "email_unverified"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna.schmidt@police.example"]
    path = mailbox_link_path(message)
    assert path.startswith("/register/verify/")
    # the link, the link to discard ("this was not me"), and the page to ask for a new one
    assert message.body.count("http") == 3
    assert "/register/discard/" in message.body
    assert PASSWORD not in message.body
    assert "Anna Schmidt" not in message.body  # nothing the registrant typed

    html = page(client.get(response["Location"]))
    assert "We have sent a message to the address you gave" in html
    assert "Send the link again" in html


def test_a_proposed_agency_is_stored_pending_with_its_domain_and_proposer(submit) -> None:
    response = submit(
        "/register/",
        proposal_form(
            email="anna@POLIZEI-MÜNCHEN.example",
            new_agency_domain="polizei-münchen.example",
            new_agency_phone="+49 30 901820",
        ),
    )

    assert response.status_code == 302, page(response)
    user = User.objects.get()
    assert user.email == "anna@xn--polizei-mnchen-osb.example"
    agency = Agency.objects.get()
    assert agency.status == Agency.Status.PENDING
    assert agency.proposed_by == user
    assert (agency.name, agency.country.code, agency.kind) == (
        "Polizei Musterstadt",
        "DE",
        "police",
    )
    assert agency.callback_phone == "+4930901820"
    domain = AgencyDomain.objects.get()
    assert (domain.agency, domain.domain, domain.allow_subdomains) == (
        agency,
        "xn--polizei-mnchen-osb.example",
        False,
    )
    assert user.officer.agency == agency
    assert actions() == ["agency.proposed", "officer.registered"]
    assert AuditEvent.objects.get(action="agency.proposed").target_id == str(agency.pk)
    assert len(mail.outbox) == 1


# --- The mailbox link --------------------------------------------------------------------


def test_opening_the_link_changes_nothing_and_asks_for_the_password(client, submit, police) -> None:
    officer = registered(submit, police)

    response = client.get(mailbox_link_path(mail.outbox[0]))

    assert response.status_code == 200
    assert "anna.schmidt@police.example" in page(response)
    assert 'autocomplete="current-password"' in page(response)
    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert actions() == ["officer.registered"]


def test_the_link_with_the_password_verifies_the_mailbox_once(client, submit, police) -> None:
    officer = registered(submit, police)
    link = mailbox_link_path(mail.outbox[0])

    wrong = submit(link, {"password": "not the password at all"})
    assert wrong.status_code == 400
    assert "not the password you chose" in page(wrong)
    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED

    response = submit(link, {"password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/register/verified/"
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert officer.email_verified_at is not None
    assert officer.user.is_active is True
    assert actions() == ["officer.registered", "auth.failed", "officer.mailbox_verified"]
    event = AuditEvent.objects.get(action="officer.mailbox_verified")
    assert event.actor == officer.user
    assert event.data["before"]["status"] == "email_unverified"
    assert event.data["after"]["status"] == "pending"
    html = page(client.get("/register/verified/"))
    assert "Your mailbox is confirmed" in html
    assert "passkey" in html


def test_a_reused_link_is_refused_and_changes_nothing(client, submit, police) -> None:
    officer = registered(submit, police)
    link = mailbox_link_path(mail.outbox[0])
    submit(link, {"password": PASSWORD})
    officer.refresh_from_db()
    verified_at = officer.email_verified_at

    for response in (client.get(link), submit(link, {"password": PASSWORD})):
        assert response.status_code == 400
        assert "This link was already used" in page(response)

    officer.refresh_from_db()
    assert officer.email_verified_at == verified_at
    assert actions() == [
        "officer.registered",
        "officer.mailbox_verified",
        "officer.mailbox_link_refused",
        "officer.mailbox_link_refused",
    ]
    refused = AuditEvent.objects.filter(action="officer.mailbox_link_refused").last()
    assert refused.data["reason"] == "used"
    assert refused.target_id == str(officer.pk)


def test_an_expired_link_is_refused_and_changes_nothing(client, submit, police) -> None:
    officer = registered(submit, police)
    with mock.patch("time.time", return_value=time.time() - LINK_SECONDS - 5):
        token = mailbox_token_make(officer=officer)

    for response in (
        client.get(f"/register/verify/{token}/"),
        submit(f"/register/verify/{token}/", {"password": PASSWORD}),
    ):
        assert response.status_code == 400
        assert "This link has expired" in page(response)

    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert officer.email_verified_at is None
    assert officer.user.is_active is False
    assert actions() == [
        "officer.registered",
        "officer.mailbox_link_refused",
        "officer.mailbox_link_refused",
    ]
    refused = AuditEvent.objects.filter(action="officer.mailbox_link_refused").last()
    assert (refused.data["reason"], refused.target_id) == ("expired", str(officer.pk))


def test_a_link_near_the_end_of_its_life_still_works(submit, police) -> None:
    officer = registered(submit, police)
    with mock.patch("time.time", return_value=time.time() - LINK_SECONDS + 60):
        token = mailbox_token_make(officer=officer)

    response = submit(f"/register/verify/{token}/", {"password": PASSWORD})

    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING


@pytest.mark.parametrize(
    "alter",
    [
        pytest.param(lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda token: "x" + token, id="payload"),
        pytest.param(lambda token: token.rsplit(":", 1)[0], id="truncated"),
        pytest.param(lambda token: "not-a-token", id="garbage"),
    ],
)
def test_a_tampered_link_is_refused_and_changes_nothing(client, submit, police, alter) -> None:
    officer = registered(submit, police)
    token = mailbox_link_path(mail.outbox[0]).split("/")[3]

    response = submit(f"/register/verify/{alter(token)}/", {"password": PASSWORD})

    assert response.status_code == 400
    assert "This link does not work" in page(response)
    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert actions() == ["officer.registered", "officer.mailbox_link_refused"]
    refused = AuditEvent.objects.get(action="officer.mailbox_link_refused")
    assert (refused.data["reason"], refused.target_type) == ("invalid", "mailbox_link")


def test_a_link_signed_for_another_purpose_or_officer_state_is_refused(submit, police) -> None:
    officer = registered(submit, police)
    other_purpose = signing.dumps({"officer": officer.pk, "state": "x"})
    wrong_state = signing.dumps({"officer": officer.pk, "state": "x"}, salt=MAILBOX_LINK_SALT)

    for token in (other_purpose, wrong_state):
        response = submit(f"/register/verify/{token}/", {"password": PASSWORD})
        assert response.status_code == 400

    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert actions()[1:] == ["officer.mailbox_link_refused"] * 2


def test_a_link_stops_working_when_the_address_changes(submit, police) -> None:
    officer = registered(submit, police)
    link = mailbox_link_path(mail.outbox[0])
    User.objects.filter(pk=officer.user.pk).update(email="other@police.example")

    response = submit(link, {"password": PASSWORD})

    assert response.status_code == 400
    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED


def test_someone_who_registered_another_persons_address_cannot_use_its_link(submit, police) -> None:
    """Pre-hijacking: the mailbox owner clicks, but only the registrant knows the password."""
    officer = registered(submit, police)
    link = mailbox_link_path(mail.outbox[0])

    for guess in ("Password123456!", "anna.schmidt", ""):
        response = submit(link, {"password": guess})
        assert response.status_code == 400

    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert "officer.mailbox_verified" not in actions()


# --- After the mailbox -------------------------------------------------------------------


def test_a_verified_officer_logs_in_enrols_factors_and_sees_only_the_status_page(
    client, submit, police
) -> None:
    officer = registered(submit, police)
    submit(mailbox_link_path(mail.outbox[0]), {"password": PASSWORD})

    response = client.post("/login/", {"username": officer.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/account/factors/"
    client.post("/logout/")

    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=officer.user, name="Authenticator app", confirmed=True)
    log_in(client, officer.user)
    status = client.get("/account/status/")
    assert status.status_code == 200
    assert "Waiting for vetting" in page(status)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/account/status/"


# --- Attacks: nothing is stored, sent or granted ----------------------------------------------


def assert_nothing_stored(before: tuple[int, int, int, int]) -> None:
    assert rows() == before
    assert mail.outbox == []
    assert actions() == []


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("anna@elsewhere.example", "not on an official domain of Landeskriminalamt Berlin"),
        ("anna@police.example.evil.com", "not on an official domain"),
        ("anna@berlin.police.example", "not on an official domain"),
        ("anna@evilpolice.example", "not on an official domain"),
        (f"anna@p{CYRILLIC_O}lice.example", "mixes alphabets"),
        ("anna@police.example.", "trailing dot"),
        ("anna@police.example。", "trailing dot"),
        ("anna@gmail.com", "Free-mail"),
        ("anna@police", "at least two parts"),
    ],
)
def test_a_wrong_domain_or_lookalike_address_is_refused_and_nothing_stored(
    submit, police, email: str, message: str
) -> None:
    before = rows()

    response = submit("/register/", registration_form(agency=police, email=email))

    assert response.status_code == 400
    assert message in page(response)
    assert_nothing_stored(before)


def test_an_address_on_another_agencys_domain_is_refused(submit, police) -> None:
    make_agency(name="Court", domain="court.example")
    before = rows()

    response = submit("/register/", registration_form(agency=police, email="anna@court.example"))

    assert response.status_code == 400
    assert_nothing_stored(before)


def test_a_more_specific_agency_owns_its_subdomain(submit, police) -> None:
    AgencyDomain.objects.filter(domain="police.example").update(allow_subdomains=True)
    make_agency(name="Cyber unit", domain="cyber.police.example")
    before = rows()

    response = submit(
        "/register/", registration_form(agency=police, email="anna@cyber.police.example")
    )

    assert response.status_code == 400
    assert_nothing_stored(before)
    # while another subdomain is the parent agency's
    ok = submit("/register/", registration_form(agency=police, email="anna@k1.police.example"))
    assert ok.status_code == 302


def test_a_pending_agency_cannot_be_chosen_by_posting_its_id(submit) -> None:
    pending = make_agency(status=Agency.Status.PENDING, domain="pending.example")
    before = rows()

    response = submit("/register/", registration_form(agency=pending))

    assert response.status_code == 400
    assert_nothing_stored(before)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"email": "anna@gmail.com", "new_agency_domain": "gmail.com"},
            "new_agency_domain",
            "Free-mail",
        ),
        (
            {"email": "anna@mail.yahoo.com", "new_agency_domain": "mail.yahoo.com"},
            "new_agency_domain",
            "Free-mail",
        ),
        (
            {
                "email": f"anna@p{CYRILLIC_O}lizei.example",
                "new_agency_domain": f"p{CYRILLIC_O}lizei.example",
            },
            "new_agency_domain",
            "mixes alphabets",
        ),
        (
            {
                "email": "anna@\u0440\u043e\u04cf\u0456\u0441\u0435.example",  # роӏісе
                "new_agency_domain": "\u0440\u043e\u04cf\u0456\u0441\u0435.example",
            },
            "new_agency_domain",
            "written in Cyrillic letters",
        ),
        (
            {
                "email": "anna@\u0299\u1d0b\u1d00.example.de",  # ʙᴋᴀ: small capitals
                "new_agency_domain": "\u0299\u1d0b\u1d00.example.de",
            },
            "new_agency_domain",
            "looks like bka.example.de",
        ),
        ({"new_agency_domain": "polizei.example."}, "new_agency_domain", "trailing dot"),
        ({"email": "anna@other.example"}, "email", "must be on the domain you propose"),
        ({"new_agency_phone": "030 901820"}, "new_agency_phone", "country code"),
        ({"new_agency_phone": "+49 1"}, "new_agency_phone", "country code"),
        ({"new_agency_country": "XX"}, "new_agency_country", "valid choice"),
        ({"new_agency_kind": ""}, "new_agency_kind", "Choose what kind"),
        ({"new_agency_name": ""}, "new_agency_name", "Enter the name"),
    ],
)
def test_a_bad_agency_proposal_is_refused_and_nothing_stored(
    submit, fields: dict, field: str, message: str
) -> None:
    make_agency(name="Bundeskriminalamt", country="DE", domain="bka.example.de")
    before = rows()

    response = submit("/register/", proposal_form(**fields))

    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert_nothing_stored(before)


def test_a_free_mail_proposal_is_refused_on_the_address_and_on_the_domain(submit) -> None:
    before = rows()

    response = submit(
        "/register/",
        proposal_form(email="anna@gmail.com", new_agency_domain="gmail.com", new_agency_name=""),
    )

    errors = response.context["form"].errors
    assert response.status_code == 400
    assert "Free-mail" in str(errors["email"])
    assert "Free-mail" in str(errors["new_agency_domain"])
    assert_nothing_stored(before)


@pytest.mark.parametrize(
    "proposed",
    ["police.example", "POLICE.example", "ｐolice.example", "berlin.police.example"],
)
def test_a_domain_that_belongs_to_an_agency_cannot_be_proposed_again(
    submit, police, proposed: str
) -> None:
    AgencyDomain.objects.filter(domain="police.example").update(allow_subdomains=True)
    before = rows()

    response = submit(
        "/register/", proposal_form(email=f"anna@{proposed}", new_agency_domain=proposed)
    )

    assert response.status_code == 400
    assert "choose it from the list" in str(response.context["form"].errors["new_agency_domain"])
    assert_nothing_stored(before)


def test_a_domain_already_proposed_and_pending_cannot_be_proposed_again(submit) -> None:
    make_agency(status=Agency.Status.PENDING, domain="polizei.example")
    before = rows()

    response = submit("/register/", proposal_form())

    assert response.status_code == 400
    assert "waiting for verification" in str(response.context["form"].errors["new_agency_domain"])
    assert_nothing_stored(before)


def test_a_known_agency_name_cannot_be_proposed_again(submit, police) -> None:
    before = rows()

    response = submit("/register/", proposal_form(new_agency_name="LANDESKRIMINALAMT BERLIN"))

    assert response.status_code == 400
    assert "already known" in str(response.context["form"].errors["new_agency_name"])
    assert_nothing_stored(before)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"password1": "123456789012345", "password2": "123456789012345"}, "password1"),
        ({"password1": "password12345", "password2": "password12345"}, "password1"),
        ({"password2": "another horse battery staple"}, "password2"),
    ],
)
def test_a_weak_or_mistyped_password_is_refused_and_nothing_stored(
    submit, police, fields: dict, field: str
) -> None:
    before = rows()

    response = submit("/register/", registration_form(agency=police, **fields))

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert_nothing_stored(before)


def test_the_service_refuses_a_wrong_domain_even_without_the_form(police) -> None:
    before = rows()
    with pytest.raises(ValidationError) as refusal:
        officer_register(
            full_name="Mallory",
            title="Inspector",
            badge_number="1",
            email="mallory@police.example.evil.com",
            password=PASSWORD,
            agency=police,
        )
    assert "email" in refusal.value.message_dict
    with pytest.raises(ValidationError):
        officer_register(
            full_name="Mallory",
            title="Inspector",
            badge_number="1",
            email="mallory@gmail.com",
            password=PASSWORD,
            proposal=AgencyProposal(
                name="Fake", country="DE", kind="police", domain="gmail.com", callback_phone="+1"
            ),
        )
    assert_nothing_stored(before)


# --- No account enumeration --------------------------------------------------------------


def test_registering_a_taken_address_answers_as_success_and_only_notes_the_owner(
    client, submit, police
) -> None:
    owner = make_officer(agency=police, email="anna.schmidt@police.example")
    before = rows()

    response = submit(
        "/register/", registration_form(agency=police, email="ANNA.Schmidt@police.example")
    )

    assert response.status_code == 302
    assert response["Location"] == "/register/mailbox/"
    assert "We have sent a message to the address you gave" in page(
        client.get("/register/mailbox/")
    )
    assert rows() == before
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)  # the factory's password, unchanged
    assert owner.user.full_name != "Anna Schmidt"
    assert actions() == ["account.registration_repeated"]
    assert len(mail.outbox) == 1
    note = mail.outbox[0]
    assert note.to == ["anna.schmidt@police.example"]
    assert "already has an account" in note.body
    assert "/register/verify/" not in note.body


def test_the_answer_to_a_taken_address_is_the_same_page_as_to_a_new_one(
    client, submit, police
) -> None:
    make_officer(agency=police, email="taken@police.example")

    new = submit("/register/", registration_form(agency=police, email="new@police.example"))
    new_page = page(client.get(new["Location"]))
    taken = submit("/register/", registration_form(agency=police, email="taken@police.example"))
    taken_page = page(client.get(taken["Location"]))

    assert (new.status_code, new["Location"]) == (taken.status_code, taken["Location"])
    strip = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert strip.sub("", new_page) == strip.sub("", taken_page)


def test_registering_from_one_network_is_limited(submit, police) -> None:
    for _ in range(REGISTRATIONS_PER_ADDRESS_PER_HOUR):
        audit_append(action="officer.registered", data={"ip": "127.0.0.1"})
    events = len(actions())
    before = rows()

    response = submit("/register/", registration_form(agency=police))

    assert response.status_code == 400
    assert "Too many registrations" in page(response)
    assert rows() == before
    assert mail.outbox == []
    assert len(actions()) == events


# --- An unverified mailbox ----------------------------------------------------------------


def test_an_unverified_officer_cannot_log_in_and_reaches_only_the_mailbox_page(
    client, submit, police
) -> None:
    officer = registered(submit, police)
    mail.outbox.clear()

    response = client.post("/login/", {"username": officer.user.email, "password": PASSWORD})

    # the right password is told to confirm the mailbox first, and is not logged in
    assert response.status_code == 302
    assert response["Location"] == "/register/mailbox/"
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action="auth.password_ok").exists()
    for closed in ("/account/factors/", "/account/factors/totp/", "/account/status/", "/admin/"):
        response = client.get(closed)
        assert response.status_code == 302, closed
        assert response["Location"].startswith("/login/"), closed
    mailbox_page = client.get("/register/mailbox/")
    assert mailbox_page.status_code == 200
    assert "Confirm your mailbox" in page(mailbox_page)
    assert "Send the link again" in page(mailbox_page)
    officer.refresh_from_db()
    assert officer.status == Officer.Status.EMAIL_UNVERIFIED
    assert not officer.user.totpdevice_set.exists()


def test_an_officer_is_known_to_await_the_mailbox_link_until_it_is_followed(submit, police) -> None:
    officer = registered(submit, police)
    assert mailbox_unconfirmed(user=officer.user)
    submit(mailbox_link_path(mail.outbox[0]), {"password": PASSWORD})
    assert not mailbox_unconfirmed(user=officer.user)
    assert not mailbox_unconfirmed(user=make_user())


def test_a_session_made_for_an_unverified_officer_authenticates_nobody(
    client, submit, police
) -> None:
    officer = registered(submit, police)
    client.force_login(officer.user)  # as if a session had been obtained some other way

    for path in ("/account/factors/", "/account/status/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
        assert not response.wsgi_request.user.is_authenticated
    assert officer.user.full_name not in page(client.get("/"))


def test_asking_for_the_link_again_sends_a_new_working_link(client, submit, police) -> None:
    officer = registered(submit, police)
    mail.outbox.clear()

    response = submit("/register/mailbox/", {"email": "ANNA.SCHMIDT@police.example"})

    assert response.status_code == 302
    assert "If an account with that address is waiting" in page(client.get("/register/mailbox/"))
    assert len(mail.outbox) == 1
    assert actions() == ["officer.registered", "officer.mailbox_link_resent"]
    verified = submit(mailbox_link_path(mail.outbox[0]), {"password": PASSWORD})
    assert verified.status_code == 302
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING


@pytest.mark.parametrize(
    "email", ["nobody@police.example", "not an address", "reviewer@platform.example"]
)
def test_asking_for_a_link_for_any_other_address_answers_the_same_and_sends_nothing(
    client, submit, police, email: str
) -> None:
    make_user(email="reviewer@platform.example")
    make_officer(agency=police, email="active@police.example")

    response = submit("/register/mailbox/", {"email": email})
    again = submit("/register/mailbox/", {"email": "active@police.example"})

    for answer in (response, again):
        assert answer.status_code == 302
        assert answer["Location"] == "/register/mailbox/"
    assert mail.outbox == []
    assert actions() == []


def test_asking_for_the_link_again_is_rate_limited(client, submit, police) -> None:
    registered(submit, police)
    mail.outbox.clear()

    for _ in range(LINKS_PER_OFFICER_PER_HOUR + 2):
        response = submit("/register/mailbox/", {"email": "anna.schmidt@police.example"})
        assert response.status_code == 302

    assert len(mail.outbox) == LINKS_PER_OFFICER_PER_HOUR
    assert actions().count("officer.mailbox_link_resent") == LINKS_PER_OFFICER_PER_HOUR


def test_the_audit_chain_stays_intact_through_registration(submit, police) -> None:
    officer = registered(submit, police)
    submit(mailbox_link_path(mail.outbox[0]), {"password": PASSWORD})
    submit(f"/register/verify/{mailbox_token_make(officer=officer)}/", {"password": PASSWORD})
    assert audit_chain_verify().ok
