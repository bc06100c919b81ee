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

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q

from .models import AgencyDomain

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


def domain_owner(domain: str) -> AgencyDomain | None:
    """Return the agency domain that a normalised domain belongs to, or ``None``.

    The most specific record wins: the domain itself, else the nearest parent that
    allows subdomains. Any agency counts, whatever its status.
    """
    parents = parent_domains(domain)
    candidates = AgencyDomain.objects.select_related("agency").filter(
        Q(domain=domain) | Q(domain__in=parents, allow_subdomains=True)
    )
    by_domain = {candidate.domain: candidate for candidate in candidates}
    for name in [domain, *parents]:
        if name in by_domain:
            return by_domain[name]
    return None
