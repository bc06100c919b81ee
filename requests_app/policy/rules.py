"""Step 6: the jurisdiction policy allows the request (PROTOCOL §3.6)."""

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Subquery
from django.db.models.functions import JSONObject
from django.utils.translation import gettext, ngettext

from accounts.models import Agency
from portal.problems import Problem
from requests_app.policy.models import PolicyRule

if TYPE_CHECKING:  # intake sits above policy: a type only
    from requests_app.intake.attachments import VerifiedAttachment


def policy_rule_for(*, country: str, kind: str) -> PolicyRule | None:
    """The country's own rule for a kind, else the default rule (blank country)."""
    rules = {
        str(r.country or ""): r
        for r in PolicyRule.objects.filter(country__in=[country, ""], kind=kind)
    }
    return rules.get(country) or rules.get("")


# The columns of a rule that intake reads, for a look-up folded into another query.
_RULE_COLUMNS = (
    "id",
    "country",
    "kind",
    "allowed",
    "disclosable_categories",
    "document_required",
    "deadline_hours",
    "max_period_days",
)


def policy_rule_subquery(*, country: str, kind: str) -> Subquery:
    """``policy_rule_for`` as a subquery: the rule's columns as one JSON object, or null.

    Intake folds it into the query that reads the signing key (one round trip for both);
    ``policy_rule_from_json`` turns its value back into the rule. The country's own rule
    sorts before the default (blank) one.
    """
    rules = PolicyRule.objects.filter(country__in=[country, ""], kind=kind).order_by("-country")
    return Subquery(rules.values(rule=JSONObject(**{name: name for name in _RULE_COLUMNS}))[:1])


def policy_rule_from_json(value: dict[str, Any] | None) -> PolicyRule | None:
    """The rule read by ``policy_rule_subquery`` (never saved: it is a read of one moment)."""
    if value is None:
        return None
    columns = {name: value[name] for name in _RULE_COLUMNS}
    if isinstance(columns["disclosable_categories"], str):
        # SQLite's json_object() nests a JSON column as its text; PostgreSQL's as JSON.
        columns["disclosable_categories"] = json.loads(columns["disclosable_categories"])
    return PolicyRule(**columns)


def _violation(rule: str, detail: str) -> Problem:
    return Problem("policy_violation", 422, detail, rule=rule)


def policy_check(
    *, agency: Agency, request: dict[str, Any], attachments: list["VerifiedAttachment"], today: date
) -> PolicyRule:
    """Return the rule that allows this request, or raise ``policy_violation`` naming the rule."""
    country = str(agency.country)
    rule = policy_rule_for(country=country, kind=request["kind"])
    return policy_rule_check(
        rule, country=country, request=request, attachments=attachments, today=today
    )


def policy_rule_check(
    rule: PolicyRule | None,
    *,
    country: str,
    request: dict[str, Any],
    attachments: list["VerifiedAttachment"],
    today: date,
) -> PolicyRule:
    """``policy_check`` with the rule already read (``policy_rule_for``, or its subquery)."""
    kind = request["kind"]
    if rule is None or not rule.allowed:
        raise _violation(
            "kind_not_allowed",
            gettext("Requests of kind %(kind)s are not accepted from %(country)s.")
            % {"kind": kind, "country": country},
        )
    refused = sorted(set(request["data_categories"]) - set(rule.disclosable_categories))
    if refused:
        raise _violation(
            "category_not_disclosable",
            gettext("Not disclosable for %(kind)s: %(categories)s.")
            % {"kind": kind, "categories": ", ".join(refused)},
        )
    if rule.document_required and not any(a.media_type == "application/pdf" for a in attachments):
        raise _violation(
            "document_required",
            gettext("A %(kind)s request needs its legal document as a PDF.") % {"kind": kind},
        )
    period = request.get("period")
    if period is None:
        raise _violation("period_required", gettext("The request must name the period it covers."))
    if (period["to"] - period["from"]).days + 1 > rule.max_period_days:
        raise _violation(
            "period_too_long",
            ngettext(
                "A %(kind)s request covers at most %(days)d day.",
                "A %(kind)s request covers at most %(days)d days.",
                rule.max_period_days,
            )
            % {"kind": kind, "days": rule.max_period_days},
        )
    if period["from"] > today:
        raise _violation("period_in_future", gettext("The period starts in the future."))
    non_disclosure = request.get("non_disclosure")
    if non_disclosure is not None and non_disclosure["until"] <= today:
        raise _violation(
            "non_disclosure_expired", gettext("The non-disclosure order has already ended.")
        )
    if non_disclosure is not None and non_disclosure["until"] > today + timedelta(days=3 * 366):
        raise _violation(
            "non_disclosure_too_long",
            # Translators: a non-disclosure order forbids telling the affected users.
            gettext("A non-disclosure order runs at most three years."),
        )
    return rule
