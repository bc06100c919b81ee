"""Edit the jurisdiction policy: change a rule, or give a country a rule of its own.

Intake reads the rules on every submission (``intake.policy.policy_rule_for``) and
nothing caches them, so an edit applies to the next submission in every worker. Each
edit locks the row it changes, checks the new terms with ``policy_terms_problems`` and
writes its audit event (before and after) in the same transaction.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import Role, User
from portal.audit import audit_append
from requests_app.lifecycle.models import DataCategory, RequestKind
from requests_app.policy.defaults import EVIDENCE_REGULATION_STATES
from requests_app.policy.models import CountryPolicy, PolicyRule

RULE_UPDATED = "policy_rule.updated"
RULE_CREATED = "policy_rule.created"

REASON_MAX_LENGTH = 2000
# A service deadline beyond a year, or a period beyond ten years, is a typing mistake.
DEADLINE_HOURS_MAX = 24 * 366
MAX_PERIOD_DAYS_MAX = 3653


class PolicyRefused(Exception):
    """An edit that may not be made; each problem names its field ("" for the whole rule)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(" ".join(message for _, message in self.problems))


@dataclass(frozen=True)
class PolicyTerms:
    """The editable terms of a rule, as stored and as written to the audit log."""

    allowed: bool
    disclosable_categories: list[str]
    document_required: bool
    deadline_hours: int
    max_period_days: int

    @classmethod
    def of(cls, rule: PolicyRule) -> "PolicyTerms":
        return cls(
            allowed=rule.allowed,
            disclosable_categories=list(rule.disclosable_categories),
            document_required=rule.document_required,
            deadline_hours=rule.deadline_hours,
            max_period_days=rule.max_period_days,
        )

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


def categories_in_order(categories: list[str]) -> list[str]:
    """Return the known categories among ``categories``, once each, in DataCategory order."""
    wanted = set(categories)
    return [value for value in DataCategory.values if value in wanted]


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def policy_terms_problems(*, country: str, kind: str, terms: PolicyTerms) -> list[tuple[str, str]]:
    """Return every reason these terms cannot be the rule for ``country`` and ``kind``.

    A plain function, so the form shows the same refusals the service enforces.
    """
    problems: list[tuple[str, str]] = []
    unknown = sorted({str(c) for c in terms.disclosable_categories} - set(DataCategory.values))
    if unknown:
        problems.append(
            (
                "disclosable_categories",
                _("Unknown data categories: %(categories)s.") % {"categories": ", ".join(unknown)},
            )
        )
    elif terms.allowed and not terms.disclosable_categories:
        problems.append(
            (
                "disclosable_categories",
                _(
                    "An accepted kind needs at least one disclosable category; "
                    "to refuse the kind, mark it refused instead."
                ),
            )
        )
    if not _is_count(terms.deadline_hours) or not 1 <= terms.deadline_hours <= DEADLINE_HOURS_MAX:
        problems.append(
            (
                "deadline_hours",
                _("Give a whole number of hours from 1 to %(max)d.") % {"max": DEADLINE_HOURS_MAX},
            )
        )
    if (
        not _is_count(terms.max_period_days)
        or not 1 <= terms.max_period_days <= MAX_PERIOD_DAYS_MAX
    ):
        problems.append(
            (
                "max_period_days",
                _("Give a whole number of days from 1 to %(max)d.") % {"max": MAX_PERIOD_DAYS_MAX},
            )
        )
    # The European Production Order exists only between the states bound by the e-Evidence
    # Regulation (every EU member state but Denmark): accepting it by default, or from any
    # other country, would accept an instrument that cannot exist.
    if kind == RequestKind.EU_EPOC and terms.allowed and country not in EVIDENCE_REGULATION_STATES:
        problems.append(
            (
                "allowed",
                _(
                    "A European Production Order can be accepted only from an EU member state "
                    "bound by the e-Evidence Regulation (not Denmark)."
                ),
            )
        )
    return problems


def _require_vetting_admin(actor: User) -> None:
    if actor.role != Role.VETTING_ADMIN or not actor.is_active:
        raise PermissionDenied


def _clean_reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise PolicyRefused([("reason", _("Say why the rule changes."))])
    if len(text) > REASON_MAX_LENGTH:
        raise PolicyRefused(
            [
                (
                    "reason",
                    _("Keep the reason under %(count)d characters.") % {"count": REASON_MAX_LENGTH},
                )
            ]
        )
    return text


def _terms(
    *,
    allowed: bool,
    disclosable_categories: list[str],
    document_required: bool,
    deadline_hours: int,
    max_period_days: int,
    country: str,
    kind: str,
) -> PolicyTerms:
    terms = PolicyTerms(
        allowed=bool(allowed),
        disclosable_categories=[str(c) for c in disclosable_categories],
        document_required=bool(document_required),
        deadline_hours=deadline_hours,
        max_period_days=max_period_days,
    )
    problems = policy_terms_problems(country=country, kind=kind, terms=terms)
    if problems:
        raise PolicyRefused(problems)
    return PolicyTerms(
        allowed=terms.allowed,
        disclosable_categories=categories_in_order(terms.disclosable_categories),
        document_required=terms.document_required,
        deadline_hours=terms.deadline_hours,
        max_period_days=terms.max_period_days,
    )


def policy_rule_update(
    *,
    rule: PolicyRule,
    actor: User,
    allowed: bool,
    disclosable_categories: list[str],
    document_required: bool,
    deadline_hours: int,
    max_period_days: int,
    reason: str,
    seen_updated_at: datetime | None = None,
) -> PolicyRule:
    """Change the terms of one rule; intake applies them from the next submission on.

    ``seen_updated_at`` is the version the administrator edited: if someone else saved
    the rule since, the edit is refused rather than silently undoing theirs.
    """
    _require_vetting_admin(actor)
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = PolicyRule.objects.select_for_update().get(pk=rule.pk)
        if seen_updated_at is not None and locked.updated_at != seen_updated_at:
            raise PolicyRefused(
                [
                    (
                        "",
                        _(
                            "Someone else changed this rule after you opened it. "
                            "Check its current terms and make your change again."
                        ),
                    )
                ]
            )
        after = _terms(
            allowed=allowed,
            disclosable_categories=disclosable_categories,
            document_required=document_required,
            deadline_hours=deadline_hours,
            max_period_days=max_period_days,
            country=str(locked.country or ""),
            kind=locked.kind,
        )
        before = PolicyTerms.of(locked)
        if after == before:
            raise PolicyRefused([("", _("These are the rule's current terms: nothing to change."))])
        locked.allowed = after.allowed
        locked.disclosable_categories = after.disclosable_categories
        locked.document_required = after.document_required
        locked.deadline_hours = after.deadline_hours
        locked.max_period_days = after.max_period_days
        locked.updated_at = timezone.now()
        locked.save(
            update_fields=[
                "allowed",
                "disclosable_categories",
                "document_required",
                "deadline_hours",
                "max_period_days",
                "updated_at",
            ]
        )
        audit_append(
            actor=actor,
            action=RULE_UPDATED,
            target=locked,
            data={
                "country": str(locked.country or ""),
                "kind": locked.kind,
                "before": before.as_data(),
                "after": after.as_data(),
                "reason": reason,
            },
        )
    return locked


def policy_rule_create(
    *,
    actor: User,
    country: str,
    kind: str,
    allowed: bool,
    disclosable_categories: list[str],
    document_required: bool,
    deadline_hours: int,
    max_period_days: int,
    reason: str,
) -> PolicyRule:
    """Give one country its own rule for a kind, in place of the default rule.

    The audit event's ``before`` holds the default terms that applied to the country
    until now (``None`` if there was no default for the kind).
    """
    _require_vetting_admin(actor)
    country = (country or "").strip().upper()
    problems: list[tuple[str, str]] = []
    if not country or country not in countries:
        problems.append(("country", _("Choose a country.")))
    if kind not in RequestKind.values:
        problems.append(("kind", _("Choose a request kind.")))
    if problems:
        raise PolicyRefused(problems)
    reason = _clean_reason(reason)
    after = _terms(
        allowed=allowed,
        disclosable_categories=disclosable_categories,
        document_required=document_required,
        deadline_hours=deadline_hours,
        max_period_days=max_period_days,
        country=country,
        kind=kind,
    )
    exists = PolicyRefused(
        [
            (
                "country",
                _("%(country)s has its own %(kind)s rule already: edit that one.")
                % {"country": countries.name(country), "kind": kind},
            )
        ]
    )
    with transaction.atomic():
        # Lock the default so that "before" is the default as it stands when we commit.
        default = PolicyRule.objects.select_for_update().filter(country="", kind=kind).first()
        if PolicyRule.objects.filter(country=country, kind=kind).exists():
            raise exists
        try:
            with transaction.atomic():
                rule = PolicyRule.objects.create(
                    country=country,
                    kind=kind,
                    allowed=after.allowed,
                    disclosable_categories=after.disclosable_categories,
                    document_required=after.document_required,
                    deadline_hours=after.deadline_hours,
                    max_period_days=after.max_period_days,
                    updated_at=timezone.now(),
                )
        except IntegrityError:
            # Another administrator created the same rule a moment ago.
            raise exists from None
        audit_append(
            actor=actor,
            action=RULE_CREATED,
            target=rule,
            data={
                "country": country,
                "kind": kind,
                "before": PolicyTerms.of(default).as_data() if default else None,
                "after": after.as_data(),
                "reason": reason,
            },
        )
    return rule


# --- The certificate of authenticity -----------------------------------------------------

STATEMENT_CHANGED = "country_policy.certificate_statement_changed"
STATEMENT_MAX_LENGTH = 4000


def certificate_statement_set(
    *, actor: User, country: str, statement: str, reason: str
) -> CountryPolicy:
    """Set the custodian's declaration for one country's responses (blank: the default).

    It applies to every response sealed from now on; a sealed response keeps the text it
    was sealed with.
    """
    _require_vetting_admin(actor)
    country = (country or "").strip().upper()
    problems: list[tuple[str, str]] = []
    if not country or country not in countries:
        problems.append(("country", _("Choose a country.")))
    text = "\n".join(line.rstrip() for line in (statement or "").strip().splitlines())
    if len(text) > STATEMENT_MAX_LENGTH:
        problems.append(
            (
                "statement",
                _("Keep the statement under %(max)d characters.") % {"max": STATEMENT_MAX_LENGTH},
            )
        )
    if "\x00" in text:
        problems.append(("statement", _("The statement cannot hold a NUL character.")))
    if problems:
        raise PolicyRefused(problems)
    reason = _clean_reason(reason)
    with transaction.atomic():
        row, _created = CountryPolicy.objects.select_for_update().get_or_create(country=country)
        before = row.certificate_statement
        if before == text:
            raise PolicyRefused([("statement", _("This is already the country's statement."))])
        row.certificate_statement = text
        row.updated_at = timezone.now()
        row.save(update_fields=["certificate_statement", "updated_at"])
        audit_append(
            actor=actor,
            action=STATEMENT_CHANGED,
            target=row,
            data={
                "country": country,
                "before": {"certificate_statement": before},
                "after": {"certificate_statement": text},
                "reason": reason,
            },
        )
    return row
