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

A new official domain must not *look like* one an agency already holds either
(``lookalike_domain_problem``): its confusable skeleton (UTS 39, from the
``confusable_homoglyphs`` data, with Latin small capitals read as their letters) must
differ from every held domain's, and no label may be written in a script the agency's
country does not use (``COUNTRY_SCRIPTS``): ``роӏісе.example`` is valid IDNA and all
Cyrillic, which a Russian agency might use and a German one does not.
"""

import unicodedata
from functools import cache
from typing import Any

import idna
from confusable_homoglyphs import categories as unicode_scripts
from confusable_homoglyphs.utils import load as load_confusables
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils.translation import gettext

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
        raise DomainError(
            gettext("The domain is empty or has an empty part (such as a trailing dot).")
        )
    if "." not in text:
        raise DomainError(
            gettext("The domain must have at least two parts, such as police.example.")
        )
    try:
        ascii_form = idna.encode(text, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainError(
            gettext("The domain is not a valid internationalised domain name.")
        ) from exc
    # UTS 46 maps look-alike dots (。．｡) to "." and drops invisible characters, so an
    # empty label can appear only now: "police.example。" becomes "police.example.".
    if any(not label for label in ascii_form.split(".")):
        raise DomainError(
            gettext("The domain is empty or has an empty part (such as a trailing dot).")
        )
    return ascii_form.lower()


def email_domain(email: str) -> str:
    """Return the normalised domain of an email address, or raise ``DomainError``."""
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local or '"' in local or any(c.isspace() for c in local):
        raise DomainError(gettext("Enter an email address such as name@police.example."))
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
        raise DomainError(gettext("Enter an email address such as name@police.example.")) from exc
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
        return gettext("Free-mail domains are not accepted; use your agency's own domain.")
    if domain == "invalid" or domain.endswith(".invalid"):
        # RFC 6761 reserves .invalid; discarded registrations park their address there.
        return gettext("Domains under .invalid are reserved and receive no mail.")
    label = mixed_script_label(domain)
    if label is not None:
        return gettext(
            "The name “%(label)s” mixes alphabets (for example a Cyrillic letter among Latin "
            "ones), so it imitates another domain."
        ) % {"label": label}
    return None


# --- Look-alikes of held domains, and scripts foreign to the agency's country ---------------

# The scripts (Unicode script names, as ``confusable_homoglyphs`` gives them) in which a
# country's official domains may be written besides Latin, which every country may use
# (ASCII names are Latin). A country not listed uses Latin only. The table follows the
# scripts of each country's official languages; add a country when an agency of it needs
# a domain in its own script. Digits and hyphens are of no script (COMMON) and pass.
COUNTRY_SCRIPTS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ["RU", "UA", "BY", "BG", "RS", "ME", "MK", "BA", "KZ", "KG", "TJ", "MN"],
        frozenset({"CYRILLIC"}),
    ),
    "GR": frozenset({"GREEK"}),
    "CY": frozenset({"GREEK"}),
    "IN": frozenset(
        {
            "DEVANAGARI",
            "BENGALI",
            "GURMUKHI",
            "GUJARATI",
            "ORIYA",
            "TAMIL",
            "TELUGU",
            "KANNADA",
            "MALAYALAM",
            "ARABIC",  # Urdu
        }
    ),
    "NP": frozenset({"DEVANAGARI"}),
    "BD": frozenset({"BENGALI"}),
    "LK": frozenset({"SINHALA", "TAMIL"}),
    "JP": frozenset({"HAN", "HIRAGANA", "KATAKANA"}),
    "CN": frozenset({"HAN"}),
    "TW": frozenset({"HAN"}),
    "HK": frozenset({"HAN"}),
    "MO": frozenset({"HAN"}),
    "SG": frozenset({"HAN", "TAMIL"}),
    "KR": frozenset({"HANGUL", "HAN"}),
    "IL": frozenset({"HEBREW", "ARABIC"}),
    **dict.fromkeys(
        [
            "AE",
            "BH",
            "DZ",
            "EG",
            "IQ",
            "JO",
            "KW",
            "LB",
            "LY",
            "MA",
            "OM",
            "PS",
            "QA",
            "SA",
            "SD",
            "SY",
            "TN",
            "YE",
            "IR",
            "AF",
            "PK",
        ],
        frozenset({"ARABIC"}),
    ),  # fmt: skip
    "TH": frozenset({"THAI"}),
    "LA": frozenset({"LAO"}),
    "KH": frozenset({"KHMER"}),
    "MM": frozenset({"MYANMAR"}),
    "GE": frozenset({"GEORGIAN"}),
    "AM": frozenset({"ARMENIAN"}),
    "ET": frozenset({"ETHIOPIC"}),
}
_NO_SCRIPT = {"COMMON", "INHERITED"}


def country_scripts(country: str) -> frozenset[str]:
    """The scripts an official domain of ``country`` (ISO 3166 alpha-2) may use."""
    return frozenset({"LATIN"}) | COUNTRY_SCRIPTS.get(str(country).upper(), frozenset())


def foreign_script_label(domain: str, country: str) -> tuple[str, str] | None:
    """Return the first label (Unicode form) with a script ``country`` does not use, and
    that script; ``None`` if every label is in the country's scripts."""
    allowed = country_scripts(country)
    for label in idna.decode(domain).split("."):
        scripts = {unicode_scripts.alias(char) for char in label} - _NO_SCRIPT
        foreign = sorted(scripts - allowed)
        if foreign:
            return label, foreign[0]
    return None


@cache
def _confusable_classes() -> dict[str, str]:
    """Each character of the confusables data mapped to one member of its class.

    The data lists, per character, the characters it is confusable with (UTS 39's
    confusables.txt); the classes are the connected groups, each represented by its
    smallest code point.
    """
    parent: dict[str, str] = {}

    def find(char: str) -> str:
        while parent.get(char, char) != char:
            parent[char] = parent.get(parent[char], parent[char])
            char = parent[char]
        return char

    for char, glyphs in load_confusables("confusables.json").items():
        for glyph in glyphs:
            other = glyph["c"].replace("\u200e", "")  # the data marks RTL characters
            if len(char) == 1 and len(other) == 1:
                first, second = find(char), find(other)
                if first != second:
                    parent[max(first, second)] = min(first, second)
    return {char: find(char) for char in parent}


# Letters the confusables data does not tie to their plain letter: ʙ, ᴋ, ᴀ read as b, k, a.
_SMALL_LETTER_PREFIXES = (
    "LATIN LETTER SMALL CAPITAL ",
    "MODIFIER LETTER SMALL CAPITAL ",
    "MODIFIER LETTER SMALL ",
    "MODIFIER LETTER CAPITAL ",
)


def _skeleton_char(char: str) -> str:
    name = unicodedata.name(char, "")
    for prefix in _SMALL_LETTER_PREFIXES:
        if name.startswith(prefix) and len(name) == len(prefix) + 1:
            char = name[-1].lower()
            break
    classes = _confusable_classes()
    for _ in range(4):  # a class's member, lower-cased, may lead to another class
        mapped = classes.get(char, char).lower()
        if mapped == char or len(mapped) != 1:
            break
        char = mapped
    return char


def confusable_skeleton(domain: str) -> str:
    """The UTS 39 skeleton of a normalised domain: equal skeletons look alike."""
    text = unicodedata.normalize("NFD", idna.decode(domain))
    return unicodedata.normalize("NFD", "".join(_skeleton_char(char) for char in text))


def lookalike_domain_problem(
    domain: str, *, country: str, agency: Agency | None = None
) -> str | None:
    """Say why a normalised domain would imitate an official one, or ``None``.

    Refused: a label in a script that ``country`` does not use, and a domain (or one of
    its parents) that is not a held domain but has the same confusable skeleton as one
    (an agency's own domains aside).
    """
    foreign = foreign_script_label(domain, country)
    if foreign is not None:
        label, script = foreign
        return gettext(
            "The name “%(label)s” is written in %(script)s letters, which official domains "
            "of this country do not use, so it imitates another domain."
        ) % {"label": label, "script": script.title()}
    names = [domain, *parent_domains(domain)[:-1]]  # not the top-level domain alone
    skeletons = {confusable_skeleton(name): name for name in names}
    held = AgencyDomain.objects.filter(
        agency__in=Agency.objects.filter(holding_claims())
    ).select_related("agency")
    if agency is not None:
        held = held.exclude(agency=agency)
    for official in held:
        name = skeletons.get(confusable_skeleton(official.domain))
        if name is not None and name != official.domain:
            return gettext(
                "This domain looks like %(domain)s, an official domain of another agency: "
                "their letters can be told apart only by their codes."
            ) % {"domain": idna.decode(official.domain)}
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
        raise Http404(gettext("No such domain of this agency."))
    return found
