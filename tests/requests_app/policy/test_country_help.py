"""The request form's legal-basis help follows the officer's country, and staff keep it.

An officer of a Brazilian agency reads the Marco Civil da Internet under the legal basis,
not the US or EU laws; a vetting administrator changes a country's help with a reason
kept in the audit log and the officer sees it on the next form; nobody else can.
"""

import pytest
from django.test import Client

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.policy.help import legal_help_for
from requests_app.policy.models import CountryHelp
from tests.audit_marks import actions_since, audit_mark
from tests.factories import (
    SoftPasskey,
    log_in,
    make_agency,
    make_officer,
    make_signing_passkey,
    make_supervisor,
    make_user,
    make_vetting_admin,
)

pytestmark = pytest.mark.django_db

HELP = "/staff/policy/help/"
FORM = "/requests/new/subscriber_data/"


def browser(user) -> Client:
    client = Client()
    log_in(client, user)
    return client


def officer_form(country: str) -> str:
    """The subscriber-data form as an officer of an agency in ``country``, passkey ready."""
    officer = make_officer(agency=make_agency(country=country))
    make_signing_passkey(officer=officer, passkey=SoftPasskey())
    page = browser(officer.user).get(FORM)
    assert page.status_code == 200
    return page.content.decode()


def test_a_brazilian_officer_is_shown_the_marco_civil_and_not_us_or_eu_law():
    page = officer_form("BR")

    assert "Marco Civil da Internet" in page
    assert "12.965/2014" in page
    assert "18 U.S.C." not in page
    assert "2023/1543" not in page


@pytest.mark.parametrize(
    ("country", "shown", "not_shown"),
    [
        ("IN", ["Bharatiya Nagarik Suraksha Sanhita", "Information Technology Act, 2000"], "2703"),
        ("US", ["18 U.S.C. § 2703"], "Marco Civil"),
        ("DE", ["Regulation (EU) 2023/1543"], "18 U.S.C."),
    ],
)
def test_each_country_at_launch_gets_its_own_law(country, shown, not_shown):
    page = officer_form(country)

    for text in shown:
        assert text in page.replace("&#x27;", "'")
    assert not_shown not in page


def test_a_country_without_help_of_its_own_gets_the_fallback_words_and_no_foreign_law():
    # Denmark is in the EU but not bound by the e-Evidence regulation: no row of its own.
    page = officer_form("DK")

    assert "Name the law of your country that allows the request" in page
    assert "2023/1543" not in page
    assert "18 U.S.C." not in page
    assert legal_help_for(country="DK").bases == []


def test_a_vetting_administrator_edits_a_countrys_help_and_the_officer_sees_it():
    admin = browser(make_vetting_admin())
    mark = audit_mark()

    page = admin.get(HELP + "?country=BR")
    assert page.status_code == 200
    assert "Marco Civil da Internet (Lei 12.965/2014), art. 22" in page.content.decode()

    missing_reason = admin.post(
        HELP, {"country": "BR", "example": "Art. 1", "bases": "Lei X", "reason": ""}
    )
    assert missing_reason.status_code == 400
    assert "Lei X" not in CountryHelp.objects.get(country="BR").legal_bases

    saved = admin.post(
        HELP,
        {
            "country": "BR",
            "example": "Art. 22, Lei 12.965/2014",
            "bases": "Lei 12.965/2014, art. 22\nLei 13.709/2018 (LGPD), art. 7, VI",
            "reason": "Legal team's note of 3 December.",
        },
    )
    assert saved.status_code == 302
    row = CountryHelp.objects.get(country="BR")
    assert row.legal_bases == "Lei 12.965/2014, art. 22\nLei 13.709/2018 (LGPD), art. 7, VI"
    (event,) = AuditEvent.objects.filter(seq__gt=mark)
    assert event.action == "country_help.changed"
    assert event.data["after"]["legal_basis_example"] == "Art. 22, Lei 12.965/2014"
    assert event.data["reason"] == "Legal team's note of 3 December."

    page = officer_form("BR")
    assert "Lei 13.709/2018 (LGPD), art. 7, VI" in page
    assert "e.g. Art. 22, Lei 12.965/2014." in page


def test_the_fallback_is_edited_too_and_reaches_a_country_without_its_own():
    admin = browser(make_vetting_admin())

    saved = admin.post(
        HELP,
        {"country": "", "example": "", "bases": "The code of criminal procedure", "reason": "R."},
    )

    assert saved.status_code == 302
    assert "The code of criminal procedure" in officer_form("DK")


@pytest.mark.parametrize("role", ["reviewer", "officer", "supervisor"])
def test_nobody_else_opens_or_posts_the_help_page_and_nothing_is_stored(role):
    user = {
        "reviewer": lambda: make_user(role=Role.REVIEWER),
        "officer": lambda: make_officer().user,
        "supervisor": lambda: make_supervisor().user,
    }[role]()
    attacker = browser(user)
    before = list(CountryHelp.objects.values_list("country", "legal_basis_example", "legal_bases"))
    mark = audit_mark()

    assert attacker.get(HELP).status_code == 403
    response = attacker.post(
        HELP,
        {"country": "BR", "example": "18 U.S.C. 2703", "bases": "Anything", "reason": "Because."},
    )

    assert response.status_code == 403
    after = list(CountryHelp.objects.values_list("country", "legal_basis_example", "legal_bases"))
    assert after == before
    assert actions_since(mark) == []


def test_an_anonymous_visitor_is_sent_to_log_in_and_nothing_is_stored():
    before = CountryHelp.objects.count()

    response = Client().post(HELP, {"country": "BR", "bases": "X", "reason": "Y"})

    assert response.status_code in (302, 403)
    assert CountryHelp.objects.count() == before
    assert not CountryHelp.objects.filter(legal_bases="X").exists()
