"""Match an email address to an agency's official domains, strictly.

The address's domain is normalised to its IDNA (ASCII) form and compared for equality
with the stored domains; a subdomain matches only where the agency allows it. Lookalikes
fail by construction: a homoglyph encodes to a different ``xn--`` label, a trailing dot,
an empty label or a suffix trick (``police.example.evil.com``) never equals or ends with
``.police.example``.

What is stored, compared and mailed is always the normalised form: UTS 46 maps some
input (upper case, full-width letters, invisible characters) onto a plain domain, and
the verification link goes to that plain domain's mailbox, so the mapping cannot be
used to verify one mailbox and hold another.
"""

import unicodedata
from typing import Any

import idna
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db.models import Exists, OuterRef, Q
from django.http import Http404

from .models import Agency, AgencyDomain, Officer, Role

FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "zoho.com",
    }
)


class DomainError(ValueError):
    """The address or domain cannot be an official one; the message says why."""


def normalise_domain(domain: str) -> str:
    """Return the IDNA 2008 ASCII form of a domain, lower case, or raise ``DomainError``."""
    text = (domain or "").strip()
    if not text or text.endswith(".") or text.startswith(".") or ".." in text:
        raise DomainError("The domain is empty or has an empty part (such as a trailing dot).")
    if "." not in text:
        raise DomainError("The domain must have at least two parts, such as police.example.")
    try:
        ascii_form = idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainError("The domain is not a valid internationalised domain name.") from exc
    # UTS 46 maps look-alike dots (。．｡) to "." and drops invisible characters, so an
    # empty label can appear only now: "police.example。" becomes "police.example.".
    if any(not label for label in ascii_form.split(".")):
        raise DomainError("The domain is empty or has an empty part (such as a trailing dot).")
    return ascii_form.lower()


def email_domain(email: str) -> str:
    """Return the normalised domain of an email address, or raise ``DomainError``."""
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local or '"' in local or any(c.isspace() for c in local):
        raise DomainError("Enter an email address such as name@police.example.")
    return normalise_domain(domain)


def domain_matches(address_domain: str, official: AgencyDomain) -> bool:
    if address_domain == official.domain:
        return True
    return official.allow_subdomains and address_domain.endswith("." + official.domain)


def email_on_agency_domain(email: str, domains: list[AgencyDomain]) -> AgencyDomain | None:
    """Return the agency domain the address is on, or ``None``."""
    domain = email_domain(email)
    for official in domains:
        if domain_matches(domain, official):
            return official
    return None


def canonical_email(email: str) -> str:
    """Return the address as it is stored and mailed: lower case, domain in IDNA form.

    Raise ``DomainError`` for an address that is not a plain ``name@domain``.
    """
    local = (email or "").strip().rpartition("@")[0]
    address = f"{local.lower()}@{email_domain(email)}"
    try:
        validate_email(address)
    except ValidationError as exc:
        raise DomainError("Enter an email address such as name@police.example.") from exc
    return address


def is_free_mail(domain: str) -> bool:
    """Whether a normalised domain is, or is under, a free-mail provider's domain."""
    return any(domain == free or domain.endswith("." + free) for free in FREE_MAIL)


# East Asian names mix these scripts legitimately within one label.
_CJK_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL"}


def _script(char: str) -> str | None:
    """The script of a letter, read from its Unicode name; ``None`` for anything else."""
    if not char.isalpha():
        return None
    first_word = unicodedata.name(char, "").split(" ")[0]
    if first_word in _CJK_SCRIPTS:
        return "CJK"
    if first_word in {"", "MODIFIER"}:
        return None
    return first_word


def mixed_script_label(domain: str) -> str | None:
    """Return the first label (Unicode form) that mixes scripts, or ``None``.

    A Cyrillic "о" in an otherwise Latin name is the classic homoglyph: the domain is
    valid and different, but reads like the real one. ``domain`` is a normalised domain.
    """
    for label in idna.decode(domain).split("."):
        scripts = {script for script in map(_script, label) if script is not None}
        if len(scripts) > 1:
            return label
    return None


def official_domain_problem(domain: str) -> str | None:
    """Say why a normalised domain cannot be an agency's official domain, or ``None``."""
    if is_free_mail(domain):
        return "Free-mail domains are not accepted; use your agency's own domain."
    if domain == "invalid" or domain.endswith(".invalid"):
        # RFC 6761 reserves .invalid; discarded registrations park their address there.
        return "Domains under .invalid are reserved and receive no mail."
    label = mixed_script_label(domain)
    if label is not None:
        return (
            f"The name “{label}” mixes alphabets (for example a Cyrillic letter among Latin "
            "ones), so it imitates another domain."
        )
    return None


def parent_domains(domain: str) -> list[str]:
    """``a.b.police.example`` -> ``["b.police.example", "police.example", "example"]``."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def unconfirmed_proposal() -> Q:
    """Match agencies proposed at registration whose proposer never proved the mailbox.

    Such a proposal is only a claim typed into a public form: until someone at the
    agency's domain follows the mailbox link, it proves nothing and holds nothing. An
    agency the platform entered itself (no proposer) is never one.
    """
    proven = Officer.objects.filter(agency=OuterRef("pk"), email_verified_at__isnull=False)
    return Q(status=Agency.Status.PENDING, proposed_by__isnull=False) & ~Q(Exists(proven))


def holding_no_claim() -> Q:
    """Match agencies whose domains and name bind nobody: rejected, or unconfirmed."""
    return Q(status=Agency.Status.REJECTED) | unconfirmed_proposal()


def holding_claims() -> Q:
    """Match agencies whose domains and name are theirs (the rest of ``holding_no_claim``)."""
    return ~holding_no_claim()


def domain_owner(domain: str) -> AgencyDomain | None:
    """Return the agency domain that a normalised domain belongs to, or ``None``.

    The most specific record wins: the domain itself, else the nearest parent that
    allows subdomains. Only agencies holding claims count (``holding_claims``): a
    rejected agency or an unconfirmed proposal owns nothing, so neither can squat a
    real agency's domain.
    """
    parents = parent_domains(domain)
    candidates = AgencyDomain.objects.select_related("agency").filter(
        Q(domain=domain) | Q(domain__in=parents, allow_subdomains=True),
        agency__in=Agency.objects.filter(holding_claims()),
    )
    by_domain = {candidate.domain: candidate for candidate in candidates}
    for name in [domain, *parents]:
        if name in by_domain:
            return by_domain[name]
    return None


def officers_off_domains(*, agency: Agency, domains: list[AgencyDomain]) -> list[Officer]:
    """Return the agency's officers (rejected ones aside) whose address is on none of
    ``domains``."""
    officers = (
        Officer.objects.filter(agency=agency)
        .exclude(status=Officer.Status.REJECTED)
        .select_related("user")
        .order_by("user__email")
    )
    return [officer for officer in officers if _on_none(officer.user.email, domains)]


def _on_none(email: str, domains: list[AgencyDomain]) -> bool:
    try:
        return email_on_agency_domain(email, domains) is None
    except DomainError:
        return True


def officers_stranded(
    *, agency: Agency, before: list[AgencyDomain], after: list[AgencyDomain]
) -> list[Officer]:
    """Return the officers whose address a change of domains takes off every domain.

    ``before`` and ``after`` are the agency's domains around the change (copies: a
    domain whose flag changes must appear as it was in ``before``).
    """
    already_off = {officer.pk for officer in officers_off_domains(agency=agency, domains=before)}
    return [
        officer
        for officer in officers_off_domains(agency=agency, domains=after)
        if officer.pk not in already_off
    ]


def agency_domain_get_for_vetting(*, user: Any, agency: Agency, domain_id: int) -> AgencyDomain:
    """Return one of the agency's domains for a vetting administrator; 404 if it is not."""
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN:
        raise PermissionDenied
    found = AgencyDomain.objects.filter(pk=domain_id, agency=agency).first()
    if found is None:
        raise Http404("No such domain of this agency.")
    return found
