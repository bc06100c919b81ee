"""Properties of the jurisdiction policy, tried by hypothesis.

The policy is data (``PolicyRule`` rows an administrator edits), so its rules are tried
over arbitrary tables, not only the default one:

- intake's step 6 (``intake.policy.policy_check``) allows a request exactly when every
  term of the rule that applies to the agency's country allows it, and otherwise names
  the first term it breaks, in PROTOCOL §3's order; a country's own rule, where there is
  one, replaces the default;
- an administrator's edit (``services.policy``) either stores exactly the terms given,
  normalised, with one audit event saying before and after, or is refused with the
  reasons and changes nothing; no edit can make a rule that accepts a kind with nothing
  to disclose, or a European Production Order outside the EU.

The deadline intake computes from the rule (received + the rule's hours) is checked on
real submissions in ``tests/requests_app/intake/test_intake_properties.py``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import Agency
from portal.models import AuditEvent
from portal.problems import Problem
from requests_app.lifecycle.models import DataCategory, RequestKind
from requests_app.policy.defaults import EU_MEMBER_STATES
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import policy_check, policy_rule_for
from requests_app.policy.services import (
    DEADLINE_HOURS_MAX,
    MAX_PERIOD_DAYS_MAX,
    RULE_CREATED,
    RULE_UPDATED,
    PolicyRefused,
    PolicyTerms,
    categories_in_order,
    policy_rule_create,
    policy_rule_update,
    policy_terms_problems,
)

pytestmark = pytest.mark.django_db

examples = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

COUNTRIES = ["DE", "FR", "AT", "US", "BR", "IN", "JP"]
TODAY = date(2026, 11, 24)
NON_DISCLOSURE_MAX = timedelta(days=3 * 366)


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run one example in a transaction that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@dataclass(frozen=True)
class Document:
    """What policy_check reads of a verified attachment."""

    media_type: str


def terms() -> st.SearchStrategy[dict[str, Any]]:
    """Any terms a stored rule can have (the table may hold what no form would write)."""
    return st.fixed_dictionaries(
        {
            "allowed": st.sampled_from([True, True, True, False]),
            "disclosable_categories": st.lists(st.sampled_from(DataCategory.values), unique=True),
            "document_required": st.booleans(),
            "deadline_hours": st.integers(1, DEADLINE_HOURS_MAX),
            "max_period_days": st.integers(1, MAX_PERIOD_DAYS_MAX),
        }
    )


@st.composite
def requests_under(draw: Any, rule: PolicyRule) -> dict[str, Any]:
    """A request as step 1 leaves it (schema-valid, dates as dates), drawn around the
    edges of ``rule``: on them, just inside and just outside."""
    categories = st.sampled_from(DataCategory.values)
    if rule.disclosable_categories and draw(st.booleans()):
        categories = st.sampled_from(list(rule.disclosable_categories))
    request: dict[str, Any] = {
        "kind": rule.kind,
        "data_categories": draw(st.lists(categories, min_size=1, unique=True)),
    }
    if draw(st.integers(0, 5)):
        start = TODAY + timedelta(days=draw(st.sampled_from([0, 1]) | st.integers(-4000, 30)))
        edges = [rule.max_period_days, rule.max_period_days + 1]
        length = draw(st.sampled_from(edges) | st.integers(1, rule.max_period_days + 10))
        request["period"] = {"from": start, "to": start + timedelta(days=length - 1)}
    if draw(st.booleans()):
        edges = [0, 1, NON_DISCLOSURE_MAX.days, NON_DISCLOSURE_MAX.days + 1]
        offset = draw(st.sampled_from(edges) | st.integers(-30, NON_DISCLOSURE_MAX.days + 30))
        request["non_disclosure"] = {"until": TODAY + timedelta(days=offset), "basis": "Order"}
    return request


def first_broken_term(
    rule: PolicyRule | None, request: dict[str, Any], documents: list[Document]
) -> str | None:
    """PROTOCOL §3 step 6, term by term in its order: the first the request breaks."""
    if rule is None or not rule.allowed:
        return "kind_not_allowed"
    if not set(request["data_categories"]) <= set(rule.disclosable_categories):
        return "category_not_disclosable"
    if rule.document_required and "application/pdf" not in {d.media_type for d in documents}:
        return "document_required"
    period = request.get("period")
    if period is None:
        return "period_required"
    if (period["to"] - period["from"]).days + 1 > rule.max_period_days:
        return "period_too_long"
    if period["from"] > TODAY:
        return "period_in_future"
    non_disclosure = request.get("non_disclosure")
    if non_disclosure is not None and non_disclosure["until"] <= TODAY:
        return "non_disclosure_expired"
    if non_disclosure is not None and non_disclosure["until"] > TODAY + NON_DISCLOSURE_MAX:
        return "non_disclosure_too_long"
    return None


def refusal_of(check: Any, **kwargs: Any) -> tuple[Any, Exception | None]:
    """Call ``check``; return what it returned, or the exception it raised."""
    try:
        return check(**kwargs), None
    except (Problem, PolicyRefused) as refused:
        return None, refused


@examples
@given(
    data=st.data(),
    country=st.sampled_from(COUNTRIES),
    kind=st.sampled_from(RequestKind.values),
    default_terms=terms(),
    own_terms=st.none() | terms(),
    documents=st.lists(
        st.builds(Document, st.sampled_from(["application/pdf", "image/png", "image/jpeg"])),
        max_size=2,
    ),
)
def test_a_request_is_allowed_exactly_when_every_term_of_its_countrys_rule_allows_it(
    data, country, kind, default_terms, own_terms, documents
):
    with rolled_back():
        PolicyRule.objects.filter(country="", kind=kind).update(**default_terms)
        PolicyRule.objects.filter(country=country, kind=kind).delete()
        if own_terms is not None:
            PolicyRule.objects.create(country=country, kind=kind, **own_terms)
        rule = policy_rule_for(country=country, kind=kind)
        assert rule is not None
        # The rule that applies is the country's own, if it has one, else the default.
        assert str(rule.country) == (country if own_terms is not None else "")
        request = data.draw(requests_under(rule), label="request")
        expected = first_broken_term(rule, request, documents)
        event(expected or "allowed")

        allowed_by, refused = refusal_of(
            policy_check,
            agency=Agency(country=country),
            request=request,
            attachments=documents,
            today=TODAY,
        )

        if expected is None:
            assert refused is None
            assert allowed_by == rule
        else:
            assert isinstance(refused, Problem)
            assert (refused.code, refused.status) == ("policy_violation", 422)
            assert refused.extra["rule"] == expected


@examples
@given(country=st.sampled_from(COUNTRIES), kind=st.sampled_from(RequestKind.values))
def test_a_kind_the_countrys_rule_refuses_is_refused_however_good_the_request(country, kind):
    with rolled_back():
        PolicyRule.objects.update_or_create(
            country=country,
            kind=kind,
            defaults={
                "allowed": False,
                "disclosable_categories": DataCategory.values,
                "document_required": False,
                "deadline_hours": 8,
                "max_period_days": MAX_PERIOD_DAYS_MAX,
            },
        )
        request = {
            "kind": kind,
            "data_categories": [DataCategory.SUBSCRIBER_INFO],
            "period": {"from": TODAY - timedelta(days=1), "to": TODAY},
        }

        with pytest.raises(Problem) as refused:
            policy_check(
                agency=Agency(country=country),
                request=request,
                attachments=[Document("application/pdf")],
                today=TODAY,
            )

        assert refused.value.extra["rule"] == "kind_not_allowed"


# --- Editing the table ----------------------------------------------------------------------

# What an administrator might type: mostly sensible, sometimes not.
EDITED_CATEGORIES = st.lists(st.sampled_from(DataCategory.values), max_size=8) | st.lists(
    st.sampled_from(DataCategory.values) | st.text(max_size=12), max_size=4
)
EDITED_COUNT = (
    st.integers(1, 24 * 30)
    | st.integers(1, MAX_PERIOD_DAYS_MAX)
    | st.sampled_from([0, -1, DEADLINE_HOURS_MAX, DEADLINE_HOURS_MAX + 1, MAX_PERIOD_DAYS_MAX + 1])
    | st.booleans()
)


def edit_terms() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "allowed": st.booleans(),
            "disclosable_categories": EDITED_CATEGORIES,
            "document_required": st.booleans(),
            "deadline_hours": EDITED_COUNT,
            "max_period_days": EDITED_COUNT,
        }
    )


def stored_terms(rule: PolicyRule) -> dict[str, Any]:
    rule.refresh_from_db()
    return {
        "allowed": rule.allowed,
        "disclosable_categories": list(rule.disclosable_categories),
        "document_required": rule.document_required,
        "deadline_hours": rule.deadline_hours,
        "max_period_days": rule.max_period_days,
    }


def normalised(edit: dict[str, Any]) -> dict[str, Any]:
    return {**edit, "disclosable_categories": categories_in_order(edit["disclosable_categories"])}


def assert_a_rule_an_administrator_may_make(country: str, kind: str, stored: dict[str, Any]):
    assert set(stored["disclosable_categories"]) <= set(DataCategory.values)
    assert stored["disclosable_categories"] == categories_in_order(stored["disclosable_categories"])
    assert not stored["allowed"] or stored["disclosable_categories"]
    assert 1 <= stored["deadline_hours"] <= DEADLINE_HOURS_MAX
    assert 1 <= stored["max_period_days"] <= MAX_PERIOD_DAYS_MAX
    if kind == RequestKind.EU_EPOC and stored["allowed"]:
        assert country in EU_MEMBER_STATES


@examples
@given(
    country=st.sampled_from(["", *COUNTRIES]),
    kind=st.sampled_from(RequestKind.values),
    edit=edit_terms(),
)
def test_an_edit_stores_exactly_its_terms_with_one_audit_event_or_changes_nothing(
    admin, country, kind, edit
):
    with rolled_back():
        rule, _ = PolicyRule.objects.get_or_create(
            country=country,
            kind=kind,
            defaults={
                "disclosable_categories": [DataCategory.SUBSCRIBER_INFO],
                "deadline_hours": 240,
            },
        )
        before = stored_terms(rule)
        events_before = AuditEvent.objects.count()

        _, refused = refusal_of(
            policy_rule_update, rule=rule, actor=admin, **edit, reason="Property test."
        )

        if refused is not None:
            event("refused")
            assert isinstance(refused, PolicyRefused)
            assert refused.problems
            assert stored_terms(rule) == before
            assert AuditEvent.objects.count() == events_before
            # The form shows the reasons the service enforces (or there is nothing to change).
            problems = policy_terms_problems(country=country, kind=kind, terms=PolicyTerms(**edit))
            assert problems or normalised(edit) == before
        else:
            event("stored")
            after = stored_terms(rule)
            assert after == normalised(edit)
            assert after != before
            assert_a_rule_an_administrator_may_make(country, kind, after)
            audit = AuditEvent.objects.order_by("seq").last()
            assert AuditEvent.objects.count() == events_before + 1
            assert audit.action == RULE_UPDATED
            assert (audit.data["before"], audit.data["after"]) == (before, after)


@examples
@given(
    country=st.sampled_from(COUNTRIES),
    elsewhere=st.sampled_from(COUNTRIES),
    kind=st.sampled_from(RequestKind.values),
    edit=edit_terms(),
)
def test_a_countrys_own_rule_applies_to_that_country_alone(admin, country, elsewhere, kind, edit):
    with rolled_back():
        PolicyRule.objects.filter(country__in=[country, elsewhere], kind=kind).delete()
        default = PolicyRule.objects.get(country="", kind=kind)

        created, refused = refusal_of(
            policy_rule_create,
            actor=admin,
            country=country,
            kind=kind,
            **edit,
            reason="Property test.",
        )

        if refused is not None:
            event("refused")
            assert isinstance(refused, PolicyRefused)
            assert refused.problems
            assert not PolicyRule.objects.filter(country=country, kind=kind).exists()
            assert policy_rule_for(country=country, kind=kind) == default
        else:
            event("created")
            assert_a_rule_an_administrator_may_make(country, kind, stored_terms(created))
            assert policy_rule_for(country=country, kind=kind) == created
            if elsewhere != country:
                assert policy_rule_for(country=elsewhere, kind=kind) == default
            audit = AuditEvent.objects.order_by("seq").last()
            assert audit.action == RULE_CREATED
            assert audit.data["before"] == stored_terms(default)
