"""The default jurisdiction policy: PROTOCOL §3.10's table, as data."""

from django.utils.translation import gettext_lazy as _

from requests_app.lifecycle.jurisdictions import (  # noqa: F401  (re-exported)
    EU_MEMBER_STATES,
    EVIDENCE_REGULATION_STATES,
    bound_by_evidence_regulation,
)
from requests_app.lifecycle.models import DataCategory, RequestKind

# The records custodian's declaration in a response's certificate of authenticity, for a
# country whose own text the legal team has not set (policy.models.CountryPolicy). Worded
# after the usual business-records declarations (such as the US Federal Rules of Evidence
# 902(11) and 902(13)); the legal team sets each country's own where its courts ask more.
DEFAULT_CERTIFICATE_STATEMENT = _(
    "I, the undersigned, am employed by the platform named above and am a custodian of its "
    "records, or am otherwise qualified by my position to make this declaration. The records "
    "and files listed in this certificate are true and complete copies of records that the "
    "platform made and kept in the course of its regularly conducted activity, at or near "
    "the time of the acts and events they record, by or from information transmitted by "
    "persons with knowledge of those matters, as its regular practice. Each was produced in "
    "answer to the request named above, and each is identified by its SHA-256 digest, so "
    "that any alteration after production can be detected. I declare that the foregoing is "
    "true and correct."
)

ALL = [c.value for c in DataCategory]
BASIC = [
    DataCategory.SUBSCRIBER_INFO,
    DataCategory.PHONE_NUMBER,
    DataCategory.EMAIL_ADDRESS,
    DataCategory.IP_ADDRESSES,
]
EMERGENCY = [
    DataCategory.SUBSCRIBER_INFO,
    DataCategory.PHONE_NUMBER,
    DataCategory.IP_ADDRESSES,
    DataCategory.LOGIN_HISTORY,
]

# kind -> (allowed by default, categories, document required, deadline hours)
DEFAULT_RULES = {
    RequestKind.PRESERVATION: (True, ALL, False, 24),
    RequestKind.SUBSCRIBER_DATA: (True, [str(c) for c in BASIC], True, 240),
    RequestKind.COURT_ORDER: (True, ALL, True, 240),
    RequestKind.SEARCH_WARRANT: (True, ALL, True, 240),
    # The EPOC exists only between the states bound by the e-Evidence Regulation:
    # allowed per country below.
    RequestKind.EU_EPOC: (False, ALL, True, 240),
    RequestKind.EMERGENCY: (True, [str(c) for c in EMERGENCY], False, 8),
}


def policy_defaults_load(policy_rule_model) -> None:
    """Create the default rules that do not exist yet (migration and test databases)."""
    for kind, (allowed, categories, document, hours) in DEFAULT_RULES.items():
        policy_rule_model.objects.get_or_create(
            country="",
            kind=str(kind),
            defaults={
                "allowed": allowed,
                "disclosable_categories": [str(c) for c in categories],
                "document_required": document,
                "deadline_hours": hours,
            },
        )
    _, categories, document, hours = DEFAULT_RULES[RequestKind.EU_EPOC]
    for country in EVIDENCE_REGULATION_STATES:
        policy_rule_model.objects.get_or_create(
            country=country,
            kind=str(RequestKind.EU_EPOC),
            defaults={
                "allowed": True,
                "disclosable_categories": [str(c) for c in categories],
                "document_required": document,
                "deadline_hours": hours,
            },
        )
