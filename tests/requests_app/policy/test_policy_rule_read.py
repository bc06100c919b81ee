"""The rule intake reads in its key's statement is the rule ``policy_rule_for`` reads."""

import pytest
from django.db.models import Value

from accounts.models import SigningKey
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import (
    policy_rule_for,
    policy_rule_from_json,
    policy_rule_subquery,
)
from tests.requests_app.signing import enrol_signing_key

pytestmark = pytest.mark.django_db

TERMS = (
    "pk",
    "country",
    "kind",
    "allowed",
    "disclosable_categories",
    "document_required",
    "deadline_hours",
    "max_period_days",
)


def terms(rule: PolicyRule | None) -> tuple | None:
    return None if rule is None else tuple(getattr(rule, name) for name in TERMS)


def read_in_a_statement(country: str, kind: str) -> PolicyRule | None:
    # Any query will do to carry the subquery; intake's is the signing key's.
    row = (
        SigningKey.objects.annotate(one=Value(1))
        .annotate(rule=policy_rule_subquery(country=country, kind=kind))
        .values("rule")
        .first()
    )
    assert row is not None
    return policy_rule_from_json(row["rule"])


def test_the_subquery_reads_the_countrys_own_rule_else_the_default(officer):
    enrol_signing_key(officer)
    kind = "subscriber_data"
    assert terms(read_in_a_statement("FR", kind)) == terms(policy_rule_for(country="FR", kind=kind))
    PolicyRule.objects.create(
        country="FR",
        kind=kind,
        allowed=True,
        disclosable_categories=["ip_addresses"],
        document_required=False,
        deadline_hours=72,
        max_period_days=30,
    )
    own = read_in_a_statement("FR", kind)
    assert terms(own) == terms(policy_rule_for(country="FR", kind=kind))
    assert own.disclosable_categories == ["ip_addresses"]
    assert terms(read_in_a_statement("DE", kind)) == terms(policy_rule_for(country="DE", kind=kind))
    assert read_in_a_statement("DE", "no_such_kind") is None


def test_categories_nested_as_text_are_read_as_a_list():
    # SQLite's json_object() nests a JSON column as its text (PostgreSQL nests JSON).
    rule = policy_rule_from_json(
        {
            "id": 1,
            "country": "",
            "kind": "subscriber_data",
            "allowed": True,
            "disclosable_categories": '["ip_addresses", "phone_number"]',
            "document_required": True,
            "deadline_hours": 240,
            "max_period_days": 366,
        }
    )
    assert rule is not None
    assert rule.disclosable_categories == ["ip_addresses", "phone_number"]
