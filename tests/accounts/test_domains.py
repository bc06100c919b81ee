"""Matching an address to an agency's official domains: exact, after IDNA normalisation."""

import pytest

from accounts.domains import (
    DomainError,
    canonical_email,
    domain_owner,
    email_on_agency_domain,
    is_free_mail,
    mixed_script_label,
    normalise_domain,
    official_domain_problem,
)
from accounts.models import AgencyDomain
from tests.factories import make_agency

CYRILLIC_O = "\u043e"
MUENCHEN_IDNA = "xn--mnchen-3ya.de"  # münchen.de


@pytest.mark.parametrize(
    ("email", "official", "allow_subdomains", "matches"),
    [
        # exact
        ("anna@police.example", "police.example", False, True),
        ("Anna.Schmidt@POLICE.Example", "police.example", False, True),
        ("anna@ＰＯＬＩＣＥ.example", "police.example", False, True),  # full-width letters
        # subdomains only where allowed
        ("anna@berlin.police.example", "police.example", False, False),
        ("anna@berlin.police.example", "police.example", True, True),
        ("anna@a.b.police.example", "police.example", True, True),
        # suffix tricks
        ("anna@police.example.evil.com", "police.example", False, False),
        ("anna@police.example.evil.com", "police.example", True, False),
        ("anna@evilpolice.example", "police.example", True, False),
        ("anna@police.exampl", "police.example", False, False),
        # homoglyphs: a Cyrillic "о", Greek capitals
        (f"anna@p{CYRILLIC_O}lice.example", "police.example", False, False),
        (f"anna@p{CYRILLIC_O}lice.example", "police.example", True, False),
        ("anna@ΡΟLICE.example", "police.example", False, False),
        (f"anna@berlin.p{CYRILLIC_O}lice.example", "police.example", True, False),
        # a real IDN in its Unicode form matches its stored xn-- form
        ("anna@münchen.de", MUENCHEN_IDNA, False, True),
        ("anna@MÜNCHEN.DE", MUENCHEN_IDNA, False, True),
        (f"anna@{MUENCHEN_IDNA}", MUENCHEN_IDNA, False, True),
        ("anna@polizei.münchen.de", MUENCHEN_IDNA, True, True),
        ("anna@munchen.de", MUENCHEN_IDNA, False, False),
        # free mail is never an agency's domain
        ("anna@gmail.com", "police.example", False, False),
    ],
)
def test_an_address_matches_only_its_agencys_exact_domain(
    email: str, official: str, allow_subdomains: bool, matches: bool
) -> None:
    domain = AgencyDomain(domain=official, allow_subdomains=allow_subdomains)
    assert (email_on_agency_domain(email, [domain]) is domain) is matches


@pytest.mark.parametrize(
    "email",
    [
        "anna@police.example.",  # trailing dot
        "anna@police.example。",  # ideographic full stop, mapped to a trailing dot
        "anna@police.example．",  # full-width full stop
        "anna@police.example.\u200b",  # an invisible character after the dot
        "anna@.police.example",
        "anna@police..example",
        "anna@police",
        "anna@",
        "police.example",
        "@police.example",
        "anna smith@police.example",
        '"anna"@police.example',
        "anna@police_dept.example",
        "anna@-police.example",
    ],
)
def test_a_malformed_or_trailing_dot_address_is_refused_with_a_reason(email: str) -> None:
    with pytest.raises(DomainError) as refusal:
        email_on_agency_domain(email, [AgencyDomain(domain="police.example")])
    assert str(refusal.value)


def test_the_trailing_dot_refusal_names_the_problem() -> None:
    with pytest.raises(DomainError, match="trailing dot"):
        normalise_domain("police.example.")


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("Anna.Schmidt@POLICE.example", "anna.schmidt@police.example"),
        ("anna@MÜNCHEN.de", f"anna@{MUENCHEN_IDNA}"),
        ("  anna@police.example ", "anna@police.example"),
        ("anna@ｐolice.example", "anna@police.example"),
    ],
)
def test_an_address_is_stored_in_one_canonical_form(email: str, stored: str) -> None:
    assert canonical_email(email) == stored


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("GMAIL.com", True),
        ("mail.gmail.com", True),
        ("proton.me", True),
        ("web.de", True),
        ("notgmail.com", False),
        ("gmail.com.police.example", False),
        ("police.example", False),
    ],
)
def test_free_mail_domains_and_their_subdomains_are_recognised(domain: str, free: bool) -> None:
    assert is_free_mail(normalise_domain(domain)) is free


@pytest.mark.parametrize(
    ("domain", "mixed"),
    [
        ("police.example", None),
        ("münchen.de", None),
        ("пример.рф", None),  # all Cyrillic: a real script, not a mixture
        ("東京都警察.jp", None),
        ("けいさつ.jp", None),
        ("police-110.example", None),
        (f"p{CYRILLIC_O}lice.example", f"p{CYRILLIC_O}lice"),
        ("ΡΟLICE.example", "ροlice"),  # Greek Rho and Omicron
        (f"berlin.p{CYRILLIC_O}lice.example", f"p{CYRILLIC_O}lice"),
    ],
)
def test_a_label_mixing_alphabets_is_found(domain: str, mixed: str | None) -> None:
    assert mixed_script_label(normalise_domain(domain)) == mixed


def test_an_official_domain_may_not_be_free_mail_or_a_homoglyph() -> None:
    assert "Free-mail" in (official_domain_problem("gmail.com") or "")
    homoglyph = normalise_domain(f"p{CYRILLIC_O}lice.example")
    assert "mixes alphabets" in (official_domain_problem(homoglyph) or "")
    assert official_domain_problem("police.example") is None
    assert official_domain_problem(MUENCHEN_IDNA) is None


@pytest.mark.django_db
def test_the_owner_of_a_domain_is_the_most_specific_agency_record() -> None:
    federal = make_agency(domain="police.example")
    AgencyDomain.objects.filter(agency=federal).update(allow_subdomains=True)
    berlin = make_agency(domain="berlin.police.example")
    exact_only = make_agency(domain="court.example")

    assert domain_owner("police.example").agency == federal
    assert domain_owner("hamburg.police.example").agency == federal
    assert domain_owner("berlin.police.example").agency == berlin
    # berlin does not allow subdomains: its subdomains fall to the nearest parent that does
    assert domain_owner("mitte.berlin.police.example").agency == federal
    assert domain_owner("court.example").agency == exact_only
    assert domain_owner("civil.court.example") is None
    assert domain_owner("police.example.evil.com") is None
    assert domain_owner(normalise_domain(f"p{CYRILLIC_O}lice.example")) is None


def proposed_by_its_officer(domain: str, *, mailbox_confirmed: bool):
    """A pending agency proposed at registration by its one officer."""
    from accounts.models import Agency, Officer
    from tests.factories import make_officer

    officer = make_officer(
        agency=make_agency(domain=domain, status=Agency.Status.PENDING),
        status=Officer.Status.PENDING if mailbox_confirmed else Officer.Status.EMAIL_UNVERIFIED,
    )
    if not mailbox_confirmed:
        Officer.objects.filter(pk=officer.pk).update(email_verified_at=None)
    Agency.objects.filter(pk=officer.agency.pk).update(proposed_by=officer.user)
    return officer.agency


@pytest.mark.django_db
def test_a_rejected_agency_or_an_unconfirmed_proposal_owns_no_domain() -> None:
    from accounts.models import Agency

    rejected = make_agency(domain="rejected.example", status=Agency.Status.REJECTED)
    proposed_by_its_officer("squatted.example", mailbox_confirmed=False)
    confirmed = proposed_by_its_officer("proposed.example", mailbox_confirmed=True)
    entered = make_agency(domain="entered.example", status=Agency.Status.PENDING)
    suspended = make_agency(domain="suspended.example", status=Agency.Status.SUSPENDED)

    assert domain_owner("rejected.example") is None
    assert AgencyDomain.objects.filter(agency=rejected).exists()  # the record stays
    assert domain_owner("squatted.example") is None
    assert domain_owner("proposed.example").agency == confirmed
    assert domain_owner("entered.example").agency == entered  # the platform entered it
    assert domain_owner("suspended.example").agency == suspended


@pytest.mark.django_db
def test_an_unconfirmed_subdomain_claim_does_not_hide_the_real_parent() -> None:
    federal = make_agency(domain="police.example")
    AgencyDomain.objects.filter(agency=federal).update(allow_subdomains=True)
    proposed_by_its_officer("berlin.police.example", mailbox_confirmed=False)

    assert domain_owner("berlin.police.example").agency == federal


def test_the_reserved_invalid_domain_is_never_official() -> None:
    """Discarded registrations park their address under .invalid."""
    assert "reserved" in (official_domain_problem("discarded.invalid") or "")
    assert "reserved" in (official_domain_problem("invalid") or "")
    assert official_domain_problem("invalid.example") is None
