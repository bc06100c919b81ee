"""The request form's legal-basis help per country: read for officers, set by staff.

An officer in Brazil is shown the Marco Civil da Internet, one in India the BNSS and the
IT Act, one in an EU state Regulation (EU) 2023/1543, one in the US 18 U.S.C. § 2703; a
country without help of its own gets the fallback row (``country`` blank), and without
that the form's own words alone. Citations are the legal team's data, printed as written;
the sentences around them are translated (``templates/requests_app/_legal_help.html``).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import Role, User
from portal.audit import audit_append
from portal.countries import country_name, name_key
from requests_app.policy.models import CountryHelp
from requests_app.policy.services import REASON_MAX_LENGTH, PolicyRefused

HELP_CHANGED = "country_help.changed"
EXAMPLE_MAX_LENGTH = 300
BASES_MAX_LENGTH = 4000
BASES_MAX_LINES = 20


@dataclass(frozen=True)
class LegalHelp:
    """What the request form shows next to the legal basis for one officer's country."""

    country: str
    example: str
    bases: list[str]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def legal_help_for(*, country: str) -> LegalHelp:
    """The help for ``country``'s officers: its own row, else the fallback row, else none."""
    code = str(country or "").upper()
    rows = {str(row.country): row for row in CountryHelp.objects.filter(country__in=[code, ""])}
    row = rows.get(code) if code else None
    if row is None:
        row = rows.get("")
    if row is None:
        return LegalHelp(country=code, example="", bases=[])
    return LegalHelp(country=code, example=row.legal_basis_example, bases=_lines(row.legal_bases))


def _require_vetting_admin(user: User) -> None:
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN or not user.is_active:
        raise PermissionDenied


def country_help_all(*, user: User) -> list[CountryHelp]:
    """Every country's help, the fallback first, then by country name (staff only)."""
    _require_vetting_admin(user)
    rows = list(CountryHelp.objects.all())
    return sorted(
        rows, key=lambda row: (bool(str(row.country)), name_key(country_name(row.country)))
    )


def country_help_get_for_staff(*, user: User, country: str) -> CountryHelp | None:
    _require_vetting_admin(user)
    return CountryHelp.objects.filter(country=country).first()


def country_help_set(
    *, actor: User, country: str, example: str, bases: str, reason: str
) -> CountryHelp:
    """Set one country's legal-basis help (``country`` blank: the fallback), audited."""
    _require_vetting_admin(actor)
    country = (country or "").strip().upper()
    problems: list[tuple[str, str]] = []
    if country and country not in countries:
        problems.append(("country", _("Choose a country.")))
    example = " ".join((example or "").split())
    lines = _lines(bases or "")
    text = "\n".join(lines)
    if len(example) > EXAMPLE_MAX_LENGTH:
        problems.append(
            (
                "example",
                _("Keep the example under %(max)d characters.") % {"max": EXAMPLE_MAX_LENGTH},
            )
        )
    if len(text) > BASES_MAX_LENGTH or len(lines) > BASES_MAX_LINES:
        problems.append(
            (
                "bases",
                _("Keep the list under %(lines)d lines and %(max)d characters.")
                % {"lines": BASES_MAX_LINES, "max": BASES_MAX_LENGTH},
            )
        )
    if "\x00" in example or "\x00" in text:
        problems.append(("bases", _("The help cannot hold a NUL character.")))
    if problems:
        raise PolicyRefused(problems)
    reason = (reason or "").strip()
    if not reason:
        raise PolicyRefused([("reason", _("Say why the help changes."))])
    if len(reason) > REASON_MAX_LENGTH:
        raise PolicyRefused(
            [
                (
                    "reason",
                    _("Keep the reason under %(max)d characters.") % {"max": REASON_MAX_LENGTH},
                )
            ]
        )
    with transaction.atomic():
        row, _created = CountryHelp.objects.select_for_update().get_or_create(country=country)
        before = {"legal_basis_example": row.legal_basis_example, "legal_bases": row.legal_bases}
        after = {"legal_basis_example": example, "legal_bases": text}
        if before == after:
            raise PolicyRefused([("bases", _("This is already the country's help."))])
        row.legal_basis_example = example
        row.legal_bases = text
        row.updated_at = timezone.now()
        row.save(update_fields=["legal_basis_example", "legal_bases", "updated_at"])
        audit_append(
            actor=actor,
            action=HELP_CHANGED,
            target=row,
            data={"country": country, "before": before, "after": after, "reason": reason},
        )
    return row
