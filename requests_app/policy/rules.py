"""Step 6: the jurisdiction policy allows the request (PROTOCOL §3.6)."""

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

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


def _violation(rule: str, detail: str) -> Problem:
    return Problem("policy_violation", 422, detail, rule=rule)


def policy_check(
    *, agency: Agency, request: dict[str, Any], attachments: list["VerifiedAttachment"], today: date
) -> PolicyRule:
    """Return the rule that allows this request, or raise ``policy_violation`` naming the rule."""
    country = str(agency.country)
    kind = request["kind"]
    rule = policy_rule_for(country=country, kind=kind)
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
