"""The staff page for an agency's official email domains (issue #3).

Behaviour through the pages as a logged-in vetting administrator; each change needs a
reason and writes its audit event. Attack tests check the refusal and that nothing was
stored or changed.
"""

import pytest
from django.test import Client

from accounts.domains import normalise_domain
from accounts.models import Agency, AgencyDomain, Officer, Role
from tests.audit_marks import audit_mark, audit_since
from tests.factories import (
    log_in,
    make_agency,
    make_officer,
    make_user,
    registration_form,
)

pytestmark = pytest.mark.django_db

CYRILLIC_O = "\u043e"


def domains_of(agency: Agency) -> list[tuple[str, bool]]:
    return list(agency.domains.order_by("domain").values_list("domain", "allow_subdomains"))


def domains_url(agency: Agency, *rest: str) -> str:
    return f"/vetting/agencies/{agency.pk}/domains/" + "".join(f"{part}/" for part in rest)


def page(response) -> str:
    return response.content.decode()


# --- Listing and adding -------------------------------------------------------------------


def test_the_agency_page_links_to_its_domains_and_the_domains_page_lists_them(
    admin_client, police
) -> None:
    AgencyDomain.objects.create(agency=police, domain="lka.example", allow_subdomains=True)

    agency_page = page(admin_client.get(f"/vetting/agencies/{police.pk}/"))
    assert f'href="{domains_url(police)}"' in agency_page

    response = admin_client.get(domains_url(police))
    html = page(response)
    assert response.status_code == 200
    assert "<code>police.example</code>" in html
    assert "<code>lka.example</code>" in html
    assert "Stop accepting subdomains" in html  # lka.example accepts them
    assert "Accept subdomains" in html  # police.example does not
    assert "<script" not in html
    assert " style=" not in html


def test_an_administrator_adds_a_domain_normalised_with_a_reason_and_it_is_audited(
    admin_client, admin, police
) -> None:
    mark = audit_mark()

    response = admin_client.post(
        domains_url(police),
        {
            "domain": "POLIZEI-MÜNCHEN.example",
            "allow_subdomains": "on",
            "reason": "Listed on the ministry's directory page.",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == domains_url(police)
    assert domains_of(police) == [
        ("police.example", False),
        ("xn--polizei-mnchen-osb.example", True),
    ]
    [event] = audit_since(mark)
    assert (event.action, event.actor, event.target_id) == (
        "agency.domain_added",
        admin,
        str(police.pk),
    )
    assert event.data == {
        "after": {"domain": "xn--polizei-mnchen-osb.example", "allow_subdomains": True},
        "reason": "Listed on the ministry's directory page.",
    }
    # and an officer can now register with an address on a subdomain of it
    register = Client().post(
        "/register/",
        registration_form(agency=police, email="anna@k1.polizei-münchen.example"),
    )
    assert register.status_code == 302


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("gmail.com", "Free-mail"),
        ("mail.yahoo.com", "Free-mail"),
        (f"p{CYRILLIC_O}lice-berlin.example", "mixes alphabets"),
        ("court.example", "belongs to Amtsgericht"),
        ("civil.court.example", "belongs to Amtsgericht"),
        ("police.example", "already one of the agency"),
        ("police.example.", "trailing dot"),
        ("discarded.invalid", "reserved"),
        ("police dept.example", "not a valid"),
    ],
)
def test_a_domain_the_rules_refuse_is_not_added_and_nothing_is_stored(
    admin_client, police, domain: str, message: str
) -> None:
    court = make_agency(name="Amtsgericht Mitte", domain="court.example")
    AgencyDomain.objects.filter(agency=court).update(allow_subdomains=True)
    before = list(
        AgencyDomain.objects.order_by("pk").values_list("agency", "domain", "allow_subdomains")
    )
    mark = audit_mark()

    response = admin_client.post(
        domains_url(police), {"domain": domain, "reason": "The agency asked for it."}
    )

    assert response.status_code == 409
    assert message in page(response)
    assert 'role="alert"' in page(response)
    after = list(
        AgencyDomain.objects.order_by("pk").values_list("agency", "domain", "allow_subdomains")
    )
    assert after == before
    assert audit_since(mark) == []


def test_a_domain_without_a_reason_is_not_added(admin_client, police) -> None:
    mark = audit_mark()

    response = admin_client.post(domains_url(police), {"domain": "lka.example", "reason": " "})

    assert response.status_code == 400
    assert domains_of(police) == [("police.example", False)]
    assert audit_since(mark) == []


def test_a_domain_held_by_a_rejected_agency_is_released_and_added(admin_client, police) -> None:
    rejected = make_agency(name="Fake LKA", status=Agency.Status.REJECTED, domain="lka.example")
    mark = audit_mark()

    response = admin_client.post(
        domains_url(police), {"domain": "lka.example", "reason": "Confirmed by phone."}
    )

    assert response.status_code == 302
    assert domains_of(police) == [("lka.example", False), ("police.example", False)]
    assert not rejected.domains.exists()
    assert [event.action for event in audit_since(mark)] == [
        "agency.claims_released",
        "agency.domain_added",
    ]


# --- Removing -----------------------------------------------------------------------------


def test_removing_a_domain_warns_about_its_officers_and_is_audited(
    admin_client, admin, police
) -> None:
    old = AgencyDomain.objects.create(agency=police, domain="old-police.example")
    stranded = make_officer(agency=police, email="anna@old-police.example", full_name="Anna Old")
    make_officer(agency=police, email="ben@police.example", full_name="Ben Current")
    url = domains_url(police, str(old.pk), "remove")

    confirm = admin_client.get(url)
    html = page(confirm)
    assert confirm.status_code == 200
    assert "Warning: 1 officer would be on none of the agency" in html
    assert "anna@old-police.example" in html
    assert f'href="/vetting/officers/{stranded.pk}/"' in html
    assert "ben@police.example" not in html
    assert AgencyDomain.objects.filter(pk=old.pk).exists()  # the page changes nothing
    mark = audit_mark()

    response = admin_client.post(url, {"reason": "The agency moved to police.example."})

    assert response.status_code == 302
    assert domains_of(police) == [("police.example", False)]
    [event] = audit_since(mark)
    assert (event.action, event.actor) == ("agency.domain_removed", admin)
    assert event.data == {
        "before": {"domain": "old-police.example", "allow_subdomains": False},
        "reason": "The agency moved to police.example.",
        "officers_off_domain": [stranded.pk],
    }
    stranded.refresh_from_db()
    assert stranded.status == Officer.Status.ACTIVE  # the administrator decides about them


def test_the_last_domain_of_a_verified_agency_cannot_be_removed(admin_client, police) -> None:
    only = police.domains.get()
    mark = audit_mark()

    response = admin_client.post(
        domains_url(police, str(only.pk), "remove"), {"reason": "Wrong domain."}
    )

    assert response.status_code == 409
    assert "at least one official domain" in page(response)
    assert domains_of(police) == [("police.example", False)]
    assert audit_since(mark) == []


def test_the_last_domain_of_a_pending_agency_can_be_removed(admin_client) -> None:
    pending = make_agency(status=Agency.Status.PENDING, domain="typo-polizei.example")

    response = admin_client.post(
        domains_url(pending, str(pending.domains.get().pk), "remove"),
        {"reason": "A typo in the proposal."},
    )

    assert response.status_code == 302
    assert domains_of(pending) == []


def test_a_domain_of_another_agency_cannot_be_changed_through_this_one(
    admin_client, police
) -> None:
    other = make_agency(domain="court.example")
    foreign = other.domains.get()
    mark = audit_mark()

    for url in (
        domains_url(police, str(foreign.pk), "remove"),
        domains_url(police, str(foreign.pk), "subdomains"),
    ):
        assert admin_client.get(url).status_code == 404
        assert admin_client.post(url, {"reason": "x", "allow": "1"}).status_code == 404

    assert domains_of(other) == [("court.example", False)]
    assert audit_since(mark) == []


# --- Subdomains ---------------------------------------------------------------------------


def test_subdomains_are_accepted_and_no_longer_accepted_with_reasons_and_warnings(
    admin_client, admin, police
) -> None:
    official = police.domains.get()
    url = domains_url(police, str(official.pk), "subdomains")
    mark = audit_mark()

    assert "Accept the subdomains of police.example?" in page(admin_client.get(url))
    accepted = admin_client.post(url, {"allow": "1", "reason": "Units use k1.police.example."})
    assert accepted.status_code == 302
    assert domains_of(police) == [("police.example", True)]
    unit = make_officer(agency=police, email="anna@k1.police.example")

    confirm = page(admin_client.get(url))
    assert "Stop accepting the subdomains of police.example?" in confirm
    assert "anna@k1.police.example" in confirm
    stopped = admin_client.post(url, {"allow": "0", "reason": "Units were merged."})
    assert stopped.status_code == 302
    assert domains_of(police) == [("police.example", False)]

    events = audit_since(mark)
    assert [(event.action, event.actor) for event in events] == [
        ("agency.domain_subdomains_changed", admin),
        ("agency.domain_subdomains_changed", admin),
    ]
    assert events[0].data["after"] == {"domain": "police.example", "allow_subdomains": True}
    assert events[0].data["officers_off_domain"] == []
    assert events[1].data["before"]["allow_subdomains"] is True
    assert events[1].data["officers_off_domain"] == [unit.pk]
    assert events[1].data["reason"] == "Units were merged."


def test_a_repeated_subdomain_change_is_refused_not_undone(admin_client, police) -> None:
    """Two administrators clicking the same button: the second one changes nothing."""
    official = police.domains.get()
    url = domains_url(police, str(official.pk), "subdomains")
    assert admin_client.post(url, {"allow": "1", "reason": "First."}).status_code == 302
    mark = audit_mark()

    response = admin_client.post(url, {"allow": "1", "reason": "Second."})

    assert response.status_code == 409
    assert "already accepted" in page(response)
    assert domains_of(police) == [("police.example", True)]
    assert audit_since(mark) == []


# --- Nobody else --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["active officer", "reviewer"])
def test_nobody_but_a_vetting_administrator_may_see_or_change_domains(
    client, police, role: str
) -> None:
    user = (
        make_officer(agency=police).user
        if role == "active officer"
        else make_user(role=Role.REVIEWER)
    )
    log_in(client, user)
    official = police.domains.get()
    mark = audit_mark()

    for url, data in (
        (domains_url(police), {"domain": "lka.example", "reason": "mine"}),
        (domains_url(police, str(official.pk), "remove"), {"reason": "mine"}),
        (domains_url(police, str(official.pk), "subdomains"), {"allow": "1", "reason": "mine"}),
    ):
        assert client.get(url).status_code == 403, url
        assert client.post(url, data).status_code == 403, url

    assert domains_of(police) == [("police.example", False)]
    assert audit_since(mark) == []


def test_the_services_refuse_anyone_but_a_vetting_administrator(police) -> None:
    from django.core.exceptions import PermissionDenied

    from accounts.services.agencies import (
        agency_domain_add,
        agency_domain_remove,
        agency_domain_subdomains_set,
    )

    reviewer = make_user(role=Role.REVIEWER)
    official = police.domains.get()
    mark = audit_mark()

    with pytest.raises(PermissionDenied):
        agency_domain_add(
            agency=police, actor=reviewer, domain="lka.example", allow_subdomains=True, reason="x"
        )
    with pytest.raises(PermissionDenied):
        agency_domain_remove(agency=police, actor=reviewer, domain_id=official.pk, reason="x")
    with pytest.raises(PermissionDenied):
        agency_domain_subdomains_set(
            agency=police, actor=reviewer, domain_id=official.pk, allow=True, reason="x"
        )

    assert domains_of(police) == [("police.example", False)]
    assert audit_since(mark) == []


# --- Look-alikes of held domains, and scripts foreign to the agency's country --------------

CYRILLIC_POLICE = "\u0440\u043e\u04cf\u0456\u0441\u0435"  # роӏісе: all Cyrillic
SMALL_CAPITALS_BKA = "\u0299\u1d0b\u1d00"  # ʙᴋᴀ: Latin small capitals


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        (f"{CYRILLIC_POLICE}.example", "written in Cyrillic letters"),
        (f"{SMALL_CAPITALS_BKA}.example.de", "looks like bka.example.de"),
        (f"berlin.{SMALL_CAPITALS_BKA}.example.de", "looks like bka.example.de"),
        ("\u03b5\u03bb\u03bb\u03ac\u03b4\u03b1.example", "written in Greek letters"),
    ],
)
def test_a_lookalike_or_foreign_script_domain_is_not_added_and_nothing_is_stored(
    admin_client, police, domain: str, message: str
) -> None:
    make_agency(name="Bundeskriminalamt", country="DE", domain="bka.example.de")
    before = list(AgencyDomain.objects.order_by("pk").values_list("agency", "domain"))
    mark = audit_mark()

    response = admin_client.post(
        domains_url(police), {"domain": domain, "reason": "The agency asked for it."}
    )

    assert response.status_code == 409
    assert message in page(response)
    assert list(AgencyDomain.objects.order_by("pk").values_list("agency", "domain")) == before
    assert audit_since(mark) == []


@pytest.mark.parametrize(
    ("country", "domain"),
    [
        ("DE", "polizei-bayern.example"),
        ("DE", "münchen-polizei.example"),
        ("IN", "\u092a\u0941\u0932\u093f\u0938.example"),  # पुलिस: Devanagari, India
        ("GR", "\u03b1\u03c3\u03c4\u03c5\u03bd\u03bf\u03bc\u03b9\u03b1.example"),  # αστυνομια
        ("RU", f"{CYRILLIC_POLICE}.example"),  # the same Cyrillic name, for a Russian agency
    ],
)
def test_ordinary_domains_in_the_countrys_own_scripts_are_added(
    admin_client, country: str, domain: str
) -> None:
    make_agency(name="Bundeskriminalamt", country="DE", domain="bka.example.de")
    agency = make_agency(name="Agency in its own script", country=country)

    response = admin_client.post(
        domains_url(agency), {"domain": domain, "reason": "The agency asked for it."}
    )

    assert response.status_code == 302, page(response)
    assert agency.domains.filter(domain=normalise_domain(domain)).exists()


def test_an_agency_may_add_a_subdomain_of_its_own_domain(admin_client) -> None:
    bka = make_agency(name="Bundeskriminalamt", country="DE", domain="bka.example.de")

    response = admin_client.post(
        domains_url(bka), {"domain": "mail.bka.example.de", "reason": "A second mail system."}
    )

    assert response.status_code == 302, page(response)
