"""Reads for the staff pages of the jurisdiction policy (vetting administrators only).

Every function checks the reader, as the views do.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import Role, User
from portal.countries import country_name, name_key
from requests_app.lifecycle.models import RequestKind
from requests_app.policy.defaults import DEFAULT_CERTIFICATE_STATEMENT
from requests_app.policy.models import CountryPolicy, PolicyRule


def _require_vetting_admin(user: User) -> None:
    """Refuse anyone but a vetting administrator; the views check this too."""
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN:
        raise PermissionDenied


# --- Jurisdiction policy --------------------------------------------------------------


@dataclass(frozen=True)
class PolicyTable:
    defaults: list[PolicyRule]
    country_rules: list[PolicyRule]
    countries_with_rules: int


def country_code(rule: PolicyRule) -> str:
    """The rule's country code, or "" for a default rule."""
    return str(rule.country or "")


def policy_table(*, user: User) -> PolicyTable:
    """Every rule: the defaults first (in kind order), then each country's own rules."""
    _require_vetting_admin(user)
    kind_order = {kind: n for n, kind in enumerate(RequestKind.values)}
    rules = list(PolicyRule.objects.all())
    defaults = sorted((r for r in rules if not country_code(r)), key=lambda r: kind_order[r.kind])
    own = sorted(
        (r for r in rules if country_code(r)),
        key=lambda r: (name_key(country_name(country_code(r))), kind_order[r.kind]),
    )
    return PolicyTable(
        defaults=defaults,
        country_rules=own,
        countries_with_rules=len({country_code(r) for r in own}),
    )


def policy_rule_get_for_staff(*, user: User, rule_id: int) -> PolicyRule:
    """One rule, for an administrator to edit."""
    _require_vetting_admin(user)
    rule = PolicyRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


def policy_default_rule(*, user: User, kind: str) -> PolicyRule | None:
    """The rule a country without its own follows for ``kind``."""
    _require_vetting_admin(user)
    return PolicyRule.objects.filter(country="", kind=kind).first()


def policy_rule_existing(*, user: User, country: str, kind: str) -> PolicyRule | None:
    """The country's own rule for ``kind``, if it has one."""
    _require_vetting_admin(user)
    return PolicyRule.objects.filter(country=country, kind=kind).first()


def policy_countries_overriding(*, user: User, kind: str) -> list[str]:
    """The countries with their own rule for ``kind`` (who a default does not govern)."""
    _require_vetting_admin(user)
    return sorted(
        str(code)
        for code in PolicyRule.objects.filter(kind=kind)
        .exclude(country="")
        .values_list("country", flat=True)
    )


# --- The certificate of authenticity -----------------------------------------------------


def certificate_statement(*, country: str) -> str:
    """The custodian's declaration for a response to ``country``'s authorities.

    The legal team's text for the country, or the built-in statement in the active
    language. Read by the sealing task (no user: it runs for the platform).
    """
    own = (
        CountryPolicy.objects.filter(country=country)
        .exclude(certificate_statement="")
        .values_list("certificate_statement", flat=True)
        .first()
    )
    return own if own else str(DEFAULT_CERTIFICATE_STATEMENT)


def certificate_statements(*, user: User) -> list[CountryPolicy]:
    """The countries whose legal text differs from the default, by country name."""
    _require_vetting_admin(user)
    rows = CountryPolicy.objects.exclude(certificate_statement="")
    return sorted(rows, key=lambda row: name_key(country_name(row.country)))


def country_policy_get_for_staff(*, user: User, country: str) -> CountryPolicy | None:
    """A country's record of policy, if it has one."""
    _require_vetting_admin(user)
    return CountryPolicy.objects.filter(country=country).first()
