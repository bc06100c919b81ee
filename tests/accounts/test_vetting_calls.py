"""Vetting calls: which number to call, in which order, and the calls made for keys.

- A new agency (never verified) has on file the number its proposal gave: the call goes
  to a number the administrator found independently, recorded with where it was found.
- An existing agency is called on its number on file, never on a typed one.
- The callback form comes before the decision it is needed for.
- Numbers read in international format, with a ``tel:`` link.
- A call made for a key is in the agency's history, with the key.
- An officer's first passkey is approved with the officer, in one form.
"""

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Agency, CallbackCheck, KeyStatus, Officer, SigningPasskey
from accounts.services import vetting
from accounts.services.vetting import VettingRefused
from tests.audit_marks import actions_since, audit_mark, audit_since
from tests.factories import (
    log_in,
    make_agency,
    make_callback,
    make_officer,
    make_passkey,
    make_signing_key,
    make_signing_passkey,
    make_vetting_admin,
)

pytestmark = pytest.mark.django_db

SOURCE = "Official website of the agency, https://police.example/contact (switchboard)."


@pytest.fixture
def admin():
    return make_vetting_admin(full_name="Vera Vetting", email="vera@platform.example")


@pytest.fixture
def admin_client(client, admin) -> Client:
    log_in(client, admin)
    return client


def proposed_agency(**fields) -> Agency:
    """An agency proposed in a registration: pending, never verified, its number typed by
    the proposer, who has confirmed their mailbox."""
    agency = make_agency(
        status=Agency.Status.PENDING,
        callback_phone=fields.pop("callback_phone", "+4930999888"),
        **fields,
    )
    proposer = make_officer(agency=agency, status=Officer.Status.PENDING)
    Agency.objects.filter(pk=agency.pk).update(proposed_by=proposer.user)
    agency.refresh_from_db()
    return agency


def calls_and_events(mark) -> tuple[int, list[str]]:
    return CallbackCheck.objects.count(), actions_since(mark)


def page_order(page: str, *markers: str) -> list[int]:
    return [page.index(marker) for marker in markers]


# --- A new agency ------------------------------------------------------------------------


def test_a_new_agencys_page_says_not_to_rely_on_the_proposed_number_and_asks_for_its_source(
    admin_client,
) -> None:
    agency = proposed_agency()

    page = admin_client.get(f"/vetting/agencies/{agency.pk}/").content.decode()

    assert "came with its proposal" in page
    assert "Do not rely on it" in page
    assert '<label for="id_number">' in page
    assert '<label for="id_number_source">' in page
    # No instruction to dial the number on file, which is the proposer's.
    assert "never a number given in the registration" not in page.lower()


def test_a_new_agency_is_verified_after_a_call_to_a_number_found_independently(
    admin_client, admin
) -> None:
    agency = proposed_agency(callback_phone="+4930999888")
    mark = audit_mark()

    # The administrator found another number in the official directory and called it.
    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callbacks/",
        {"number": "+49 30 4664 0", "number_source": SOURCE, "outcome": "confirmed"},
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.callback_phone == "+493046640"
    call = CallbackCheck.objects.get(agency=agency)
    assert (call.number_called, call.number_source) == ("+493046640", SOURCE)

    assert admin_client.post(f"/vetting/agencies/{agency.pk}/verify/").status_code == 302

    agency.refresh_from_db()
    assert agency.status == Agency.Status.VERIFIED
    events = audit_since(mark)
    assert [e.action for e in events] == [
        "agency.callback_number_changed",
        "callback.recorded",
        "agency.verified",
    ]
    assert events[0].data["before"] == {"callback_phone": "+4930999888"}
    assert events[0].data["after"] == {"callback_phone": "+493046640"}
    assert SOURCE in events[0].data["reason"]
    assert events[1].data["number_source"] == SOURCE
    assert events[2].data["callback_id"] == call.pk
    assert events[2].data["number_source"] == SOURCE


def test_a_call_to_a_new_agency_confirming_the_proposed_number_keeps_it(admin_client) -> None:
    agency = proposed_agency(callback_phone="+4930999888")
    mark = audit_mark()

    admin_client.post(
        f"/vetting/agencies/{agency.pk}/callbacks/",
        {"number": "030 999888", "number_source": SOURCE, "outcome": "no_answer"},
    )

    # "030 999888" is not international: refused, nothing stored.
    assert calls_and_events(mark) == (0, [])
    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callbacks/",
        {"number": "+49 30 999888", "number_source": SOURCE, "outcome": "no_answer"},
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.callback_phone == "+4930999888"
    assert actions_since(mark) == ["callback.recorded"]


@pytest.mark.parametrize(
    "posted",
    [
        {"outcome": "confirmed"},
        {"outcome": "confirmed", "number": "+49 30 4664 0"},
        {"outcome": "confirmed", "number_source": SOURCE},
        {"outcome": "confirmed", "number": "+49 30 4664 0", "number_source": "   "},
        {"outcome": "confirmed", "number": "+1999", "number_source": SOURCE},
    ],
    ids=["neither", "no source", "no number", "blank source", "invalid number"],
)
def test_a_call_to_a_new_agency_without_a_number_and_its_source_is_refused_and_nothing_stored(
    admin_client, posted
) -> None:
    agency = proposed_agency(callback_phone="+4930999888")
    mark = audit_mark()

    response = admin_client.post(f"/vetting/agencies/{agency.pk}/callbacks/", posted)

    assert response.status_code in (400, 409)
    assert 'role="alert"' in response.content.decode()
    agency.refresh_from_db()
    assert agency.callback_phone == "+4930999888"
    assert calls_and_events(mark) == (0, [])


def test_the_proposed_number_confirmed_without_a_source_does_not_verify_the_agency(admin) -> None:
    # Made directly (as an old record would be): a confirmed call with no source.
    agency = proposed_agency()
    make_callback(agency=agency, called_by=admin, number_source="")
    mark = audit_mark()

    with pytest.raises(VettingRefused, match="found independently"):
        vetting.agency_verify(agency=agency, actor=admin)

    agency.refresh_from_db()
    assert agency.status == Agency.Status.PENDING
    assert actions_since(mark) == []


# --- An existing agency ------------------------------------------------------------------


def test_an_existing_agency_is_called_on_its_number_on_file_and_never_a_typed_one(admin) -> None:
    agency = make_agency(callback_phone="+4930123456")
    mark = audit_mark()

    with pytest.raises(VettingRefused, match="Call the number on file"):
        vetting.callback_record(
            agency=agency,
            actor=admin,
            outcome="confirmed",
            number="+4940999999",
            number_source="The person who asked for the call gave it.",
        )

    agency.refresh_from_db()
    assert agency.callback_phone == "+4930123456"
    assert calls_and_events(mark) == (0, [])


def test_the_officer_page_of_an_existing_agency_says_to_call_the_number_on_file(
    admin_client,
) -> None:
    officer = make_officer(
        agency=make_agency(callback_phone="+4930123456"), status=Officer.Status.PENDING
    )

    page = admin_client.get(f"/vetting/officers/{officer.pk}/").content.decode()

    assert '<a class="phone" href="tel:+49-30-123456">+49 30 123456</a>' in page
    assert "it was not given in this registration" in page
    assert '<label for="id_number">' not in page


# --- Order: the call first, then the decision ----------------------------------------------


def test_the_agency_page_has_the_call_before_verifying(admin_client) -> None:
    agency = proposed_agency()

    page = admin_client.get(f"/vetting/agencies/{agency.pk}/").content.decode()

    record, verify = page_order(
        page, f'action="/vetting/agencies/{agency.pk}/callbacks/"', "verify/"
    )
    assert record < verify
    assert page.index("Step 1: record the call") < page.index("Step 2: verify the agency")


def test_the_officer_page_has_the_call_before_approving(admin_client) -> None:
    officer = make_officer(status=Officer.Status.PENDING)

    page = admin_client.get(f"/vetting/officers/{officer.pk}/").content.decode()

    record, approve = page_order(
        page,
        f'action="/vetting/officers/{officer.pk}/callbacks/"',
        f'action="/vetting/officers/{officer.pk}/approve/"',
    )
    assert record < approve


# --- Calls for keys ------------------------------------------------------------------------


def test_the_key_page_shows_the_agencys_number_to_call(admin_client) -> None:
    officer = make_officer(agency=make_agency(callback_phone="+33144325151"))
    key = make_signing_key(officer=officer)

    page = admin_client.get(f"/vetting/signing-keys/{key.pk}/").content.decode()

    assert '<a class="phone" href="tel:+33-1-44-32-51-51">+33 1 44 32 51 51</a>' in page


def test_a_call_for_a_key_that_did_not_confirm_it_is_in_the_agencys_history(
    admin_client, admin
) -> None:
    officer = make_officer()
    key = make_signing_passkey(officer=officer, status=KeyStatus.PENDING)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/signing-passkeys/{key.pk}/callbacks/",
        {"outcome": "not_confirmed", "note": "The officer read other groups."},
    )

    assert response.status_code == 302
    call = CallbackCheck.objects.get()
    assert (call.agency, call.officer, call.signing_passkey) == (officer.agency, officer, key)
    assert call.outcome == "not_confirmed"
    key.refresh_from_db()
    assert key.status == KeyStatus.PENDING
    events = audit_since(mark)
    assert [e.action for e in events] == ["callback.recorded"]
    assert events[0].data["key"] == {"kind": "signing_passkey", "key_id": key.key_id}
    history = admin_client.get(f"/vetting/agencies/{officer.agency.pk}/").content.decode()
    assert f'href="/vetting/signing-passkeys/{key.pk}/"' in history
    assert "The officer read other groups." in history


def test_the_key_call_form_cannot_record_a_confirmation_without_approving(admin_client) -> None:
    key = make_signing_key(officer=make_officer())
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/signing-keys/{key.pk}/callbacks/", {"outcome": "confirmed"}
    )

    assert response.status_code == 400
    assert calls_and_events(mark) == (0, [])


def test_a_call_about_another_agencys_key_is_refused_and_nothing_recorded(admin) -> None:
    key = make_signing_key(officer=make_officer())
    other = make_agency()
    mark = audit_mark()

    with pytest.raises(VettingRefused, match="does not belong"):
        vetting.callback_record(agency=other, actor=admin, outcome="no_answer", key=key)

    assert calls_and_events(mark) == (0, [])


# --- An officer and their first passkey ------------------------------------------------------


def pending_officer_with_first_passkey(admin) -> tuple[Officer, SigningPasskey, CallbackCheck]:
    officer = make_officer(status=Officer.Status.PENDING, full_name="Paula Passkey")
    passkey = make_signing_passkey(officer=officer, status=KeyStatus.PENDING)
    call = make_callback(agency=officer.agency, officer=officer, called_by=admin)
    return officer, passkey, call


def test_the_officer_page_shows_the_first_passkeys_fingerprint_in_the_approval(
    admin_client, admin
) -> None:
    officer, passkey, _call = pending_officer_with_first_passkey(admin)

    page = admin_client.get(f"/vetting/officers/{officer.pk}/").content.decode()

    approve = page.index(f'action="/vetting/officers/{officer.pk}/approve/"')
    assert page.index(f'name="passkey" value="{passkey.pk}"') > approve
    assert page.index('name="passkey_fingerprint_confirmed"') > approve
    assert f"<li><code>{passkey.public_key_sha256[:4]}</code></li>" in page


def test_an_officer_and_their_first_passkey_are_approved_by_one_form_with_two_audit_events(
    admin_client, admin, django_capture_on_commit_callbacks
) -> None:
    officer, passkey, call = pending_officer_with_first_passkey(admin)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/vetting/officers/{officer.pk}/approve/",
            {"passkey": passkey.pk, "passkey_fingerprint_confirmed": "on"},
        )

    assert response.status_code == 302
    officer.refresh_from_db()
    passkey.refresh_from_db()
    assert officer.status == Officer.Status.ACTIVE
    assert (passkey.status, passkey.decided_by) == (KeyStatus.ACTIVE, admin)
    events = audit_since(mark)
    assert [e.action for e in events] == ["officer.approved", "signing_passkey.approved"]
    # One call confirmed both: the passkey's approval names it, and records no second one.
    assert events[0].data["callback_id"] == events[1].data["callback_id"] == call.pk
    assert CallbackCheck.objects.count() == 1
    assert "Your passkey is approved too" in mail.outbox[-1].body


def test_without_the_box_ticked_the_officer_is_approved_and_the_passkey_still_waits(
    admin_client, admin
) -> None:
    officer, passkey, _call = pending_officer_with_first_passkey(admin)
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/officers/{officer.pk}/approve/", {"passkey": passkey.pk}
    )

    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.status == KeyStatus.PENDING
    assert actions_since(mark) == ["officer.approved"]


def test_a_passkey_other_than_the_one_shown_is_not_approved_and_neither_is_the_officer(
    admin_client, admin, django_capture_on_commit_callbacks
) -> None:
    officer, passkey, _call = pending_officer_with_first_passkey(admin)
    # The form carries another id: a passkey registered since, or a tampered field.
    other = make_signing_passkey(officer=make_officer(), status=KeyStatus.PENDING)
    mark = audit_mark()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/vetting/officers/{officer.pk}/approve/",
            {"passkey": other.pk, "passkey_fingerprint_confirmed": "on"},
        )

    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    officer.refresh_from_db()
    passkey.refresh_from_db()
    other.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert passkey.status == other.status == KeyStatus.PENDING
    assert actions_since(mark) == []
    assert mail.outbox == []


def test_a_second_passkey_registered_after_the_page_was_read_stops_the_joint_approval(
    admin_client, admin
) -> None:
    officer, passkey, _call = pending_officer_with_first_passkey(admin)
    make_signing_passkey(officer=officer, status=KeyStatus.PENDING)  # two waiting now
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/officers/{officer.pk}/approve/",
        {"passkey": passkey.pk, "passkey_fingerprint_confirmed": "on"},
    )

    assert response.status_code == 409
    officer.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert actions_since(mark) == []


def test_if_the_passkey_cannot_be_approved_neither_is_the_officer(
    admin, django_capture_on_commit_callbacks
) -> None:
    officer, passkey, _call = pending_officer_with_first_passkey(admin)
    # The stored public key no longer hashes to the fingerprint read out.
    SigningPasskey.objects.filter(pk=passkey.pk).update(public_key_sha256="0" * 64)
    passkey.refresh_from_db()
    mark = audit_mark()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(VettingRefused, match="does not match"),
    ):
        vetting.officer_approve(officer=officer, actor=admin, passkey=passkey)

    officer.refresh_from_db()
    passkey.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert passkey.status == KeyStatus.PENDING
    assert actions_since(mark) == []
    assert mail.outbox == []


def test_another_officers_passkey_cannot_ride_along_with_an_approval(admin) -> None:
    officer, _passkey, _call = pending_officer_with_first_passkey(admin)
    stranger = make_officer(status=Officer.Status.PENDING)
    make_passkey(stranger.user)
    theirs = make_signing_passkey(officer=stranger, status=KeyStatus.PENDING)
    mark = audit_mark()

    with pytest.raises(VettingRefused, match="not this officer"):
        vetting.officer_approve(officer=officer, actor=admin, passkey=theirs)

    officer.refresh_from_db()
    theirs.refresh_from_db()
    assert officer.status == Officer.Status.PENDING
    assert theirs.status == KeyStatus.PENDING
    assert actions_since(mark) == []


# --- Numbers --------------------------------------------------------------------------------


def test_a_new_number_on_file_is_stored_in_e164_and_shown_in_international_format(
    admin_client,
) -> None:
    agency = make_agency(callback_phone="+4930123456")

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callback-number/",
        {"number": "+49 (40) 555-0101", "reason": "Listed in the federal directory."},
    )

    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.callback_phone == "+49405550101"
    page = admin_client.get(f"/vetting/agencies/{agency.pk}/").content.decode()
    assert '<a class="phone" href="tel:+49-40-5550101">+49 40 5550101</a>' in page


def test_a_number_that_is_no_real_number_is_refused(admin_client) -> None:
    agency = make_agency(callback_phone="+4930123456")
    mark = audit_mark()

    response = admin_client.post(
        f"/vetting/agencies/{agency.pk}/callback-number/",
        {"number": "+49 1", "reason": "Typed in a hurry."},
    )

    assert response.status_code == 409
    agency.refresh_from_db()
    assert agency.callback_phone == "+4930123456"
    assert actions_since(mark) == []
