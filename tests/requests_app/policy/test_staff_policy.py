"""The staff pages of the jurisdiction policy: the editor and its services.

Policy edits go through the pages (form, confirmation, save) and are then shown to change
what intake accepts. Everyone but a verified vetting administrator is refused everything.
"""

import threading
import time as clock
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.intake.staff_selectors import RejectionFilters, rejection_overview
from requests_app.lifecycle.models import LegalRequest
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import policy_check
from requests_app.policy.services import (
    PolicyRefused,
    policy_rule_create,
    policy_rule_update,
)
from tests.audit_marks import audit_mark, audit_since
from tests.factories import (
    make_agency,
    make_api_token,
    make_officer,
    make_user,
    make_vetting_admin,
)
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission
from tests.requests_app.staff_pages import (
    REFUSED,
    assert_refused_to_all_but_a_verified_vetting_admin,
)

pytestmark = [pytest.mark.django_db]


# --- Jurisdiction policy: the pages ----------------------------------------------------


def form_data(rule: PolicyRule, **changes) -> dict:
    data = {
        "allowed": "yes" if rule.allowed else "no",
        "disclosable_categories": list(rule.disclosable_categories),
        "document_required": "yes" if rule.document_required else "no",
        "deadline_hours": rule.deadline_hours,
        "max_period_days": rule.max_period_days,
        "version": rule.updated_at.isoformat(),
        "reason": "Instruction of the legal team, 2026-11-02.",
    }
    data.update(changes)
    return data


def terms(rule: PolicyRule) -> dict:
    return {
        "allowed": rule.allowed,
        "disclosable_categories": rule.disclosable_categories,
        "document_required": rule.document_required,
        "deadline_hours": rule.deadline_hours,
        "max_period_days": rule.max_period_days,
    }


def default_rule(kind: str) -> PolicyRule:
    return PolicyRule.objects.get(country="", kind=kind)


def test_the_policy_page_lists_the_defaults_first_then_the_countries(admin_client):
    response = admin_client.get("/staff/policy/")

    assert response.status_code == 200
    page = response.content.decode()
    defaults = [row.rule.kind for row in response.context["defaults"]]
    assert defaults == [
        "preservation",
        "subscriber_data",
        "court_order",
        "search_warrant",
        "eu_epoc",
        "emergency",
    ]
    country_rules = response.context["country_rules"]
    assert len(country_rules) == 26
    assert country_rules[0].rule.country.name == "Austria"
    first_default = page.index(f'id="rule-{response.context["defaults"][0].rule.pk}"')
    assert first_default < page.index(f'id="rule-{country_rules[0].rule.pk}"')
    assert "10 days (240 hours)" in page
    assert "Subscriber information, phone number, email address, IP addresses" in page
    assert "All: subscriber information, phone number" in page


def test_editing_a_rule_shows_the_change_then_saves_it_with_one_audit_event(admin_client, admin):
    rule = default_rule("subscriber_data")
    before = terms(rule)
    page = admin_client.get(f"/staff/policy/{rule.pk}/")
    assert page.status_code == 200
    assert 'value="ip_addresses"' in page.content.decode()
    mark = audit_mark()
    data = form_data(
        rule,
        disclosable_categories=["subscriber_info", "email_address"],
        deadline_hours=120,
        max_period_days=180,
    )

    preview = admin_client.post(f"/staff/policy/{rule.pk}/", data)

    assert preview.status_code == 200
    assert "Save the rule" in preview.content.decode()
    changed = [(row.label, row.after, row.detail) for row in preview.context["rows"] if row.changed]
    assert changed == [
        (
            "Disclosable data categories",
            "Subscriber information, email address",
            "No longer: phone number, IP addresses",
        ),
        ("Service deadline", "5 days (120 hours)", ""),
        ("Longest period a request may cover", "180 days", ""),
    ]
    assert terms(PolicyRule.objects.get(pk=rule.pk)) == before
    assert audit_since(mark) == []

    saved = admin_client.post(f"/staff/policy/{rule.pk}/", {**data, "step": "save"})

    assert saved.status_code == 302
    assert saved["Location"] == f"/staff/policy/#rule-{rule.pk}"
    rule.refresh_from_db()
    after = {
        "allowed": True,
        "disclosable_categories": ["subscriber_info", "email_address"],
        "document_required": True,
        "deadline_hours": 120,
        "max_period_days": 180,
    }
    assert terms(rule) == after
    [event] = audit_since(mark)
    assert (event.action, event.actor_id, event.target_type, event.target_id) == (
        "policy_rule.updated",
        admin.pk,
        "requests_app.policyrule",
        str(rule.pk),
    )
    assert event.data == {
        "country": "",
        "kind": "subscriber_data",
        "before": before,
        "after": after,
        "reason": "Instruction of the legal team, 2026-11-02.",
    }


def test_adding_a_country_rule_starts_from_the_default_and_is_audited(admin_client, admin):
    default = default_rule("subscriber_data")
    page = admin_client.get("/staff/policy/add/", {"country": "DE", "kind": "subscriber_data"})
    assert page.status_code == 200
    assert page.context["form"].initial["disclosable_categories"] == default.disclosable_categories
    mark = audit_mark()
    data = {
        "country": "DE",
        "kind": "subscriber_data",
        "allowed": "no",
        "disclosable_categories": ["subscriber_info"],
        "document_required": "yes",
        "deadline_hours": 240,
        "max_period_days": 366,
        "reason": "Germany: production orders only through the EPOC.",
    }

    preview = admin_client.post("/staff/policy/add/", data)
    assert preview.status_code == 200
    assert not PolicyRule.objects.filter(country="DE", kind="subscriber_data").exists()
    saved = admin_client.post("/staff/policy/add/", {**data, "step": "save"})

    assert saved.status_code == 302
    rule = PolicyRule.objects.get(country="DE", kind="subscriber_data")
    [event] = audit_since(mark)
    assert (event.action, event.actor_id, event.target_id) == (
        "policy_rule.created",
        admin.pk,
        str(rule.pk),
    )
    assert event.data == {
        "country": "DE",
        "kind": "subscriber_data",
        "before": terms(default),
        "after": {
            "allowed": False,
            "disclosable_categories": ["subscriber_info"],
            "document_required": True,
            "deadline_hours": 240,
            "max_period_days": 366,
        },
        "reason": "Germany: production orders only through the EPOC.",
    }
    again = admin_client.get("/staff/policy/add/", {"country": "DE", "kind": "subscriber_data"})
    assert again.status_code == 409
    assert f"/staff/policy/{rule.pk}/" in again.content.decode()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"deadline_hours": -5}, "deadline_hours", "Give a whole number of hours from 1"),
        ({"deadline_hours": 0}, "deadline_hours", "Give a whole number of hours from 1"),
        ({"max_period_days": 0}, "max_period_days", "Give a whole number of days from 1"),
        (
            {"disclosable_categories": ["subscriber_info", "bank_records"]},
            "disclosable_categories",
            "Select a valid choice. bank_records is not one of the available choices.",
        ),
        ({"disclosable_categories": []}, "disclosable_categories", "at least one"),
        ({"reason": "  "}, "reason", "Say why the rule changes."),
        ({"allowed": "maybe"}, "allowed", "Select a valid choice."),
    ],
)
def test_invalid_terms_are_refused_on_the_page_and_nothing_changes(
    admin_client, changes, field, message
):
    rule = default_rule("subscriber_data")
    before = terms(rule)
    mark = audit_mark()

    for step in ("", "save"):
        response = admin_client.post(
            f"/staff/policy/{rule.pk}/", {**form_data(rule, **changes), "step": step}
        )

        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors[field])
        assert 'role="alert"' in response.content.decode()
    assert terms(PolicyRule.objects.get(pk=rule.pk)) == before
    assert audit_since(mark) == []


def test_a_rule_for_an_unknown_country_or_a_second_rule_for_a_country_is_refused(admin_client):
    rule = default_rule("court_order")
    mark = audit_mark()
    data = {**form_data(rule), "kind": "court_order", "step": "save"}

    unknown = admin_client.post("/staff/policy/add/", {**data, "country": "XX"})
    assert unknown.status_code == 400
    assert unknown.context["choose"].errors["country"]
    existing = PolicyRule.objects.get(country="AT", kind="eu_epoc")
    twice = admin_client.post(
        "/staff/policy/add/", {**data, "country": "AT", "kind": "eu_epoc", "allowed": "yes"}
    )
    assert twice.status_code == 409
    assert "Austria has its own eu_epoc rule already" in twice.content.decode()
    assert f"/staff/policy/{existing.pk}/" in twice.content.decode()
    assert PolicyRule.objects.count() == 6 + 26
    assert audit_since(mark) == []


def test_the_european_production_order_can_be_accepted_only_from_member_states(admin_client):
    rule = default_rule("eu_epoc")
    response = admin_client.post(
        f"/staff/policy/{rule.pk}/", {**form_data(rule, allowed="yes"), "step": "save"}
    )
    assert response.status_code == 400
    assert "EU member state" in " ".join(response.context["form"].errors["allowed"])
    assert not PolicyRule.objects.get(pk=rule.pk).allowed


def test_denmark_may_not_be_given_the_european_production_order(admin_client):
    """Denmark is a member state that the e-Evidence Regulation does not bind."""
    assert not PolicyRule.objects.filter(country="DK").exists()
    rule = default_rule("eu_epoc")
    mark = audit_mark()
    response = admin_client.post(
        "/staff/policy/add/",
        {**form_data(rule, allowed="yes"), "country": "DK", "kind": "eu_epoc", "step": "save"},
    )
    assert response.status_code == 400
    assert "not Denmark" in response.content.decode()
    assert not PolicyRule.objects.filter(country="DK").exists()
    assert audit_since(mark) == []


def test_an_edit_made_on_a_stale_page_is_refused_and_shows_the_current_terms(admin_client, admin):
    rule = default_rule("court_order")
    stale = form_data(rule, deadline_hours=48)
    policy_rule_update(
        rule=rule, actor=admin, **{**terms(rule), "deadline_hours": 72}, reason="First change."
    )
    mark = audit_mark()

    response = admin_client.post(f"/staff/policy/{rule.pk}/", {**stale, "step": "save"})

    assert response.status_code == 409
    assert "Someone else changed this rule" in response.content.decode()
    assert PolicyRule.objects.get(pk=rule.pk).deadline_hours == 72
    assert audit_since(mark) == []


def test_unchanged_terms_are_not_saved(admin_client):
    rule = default_rule("court_order")
    mark = audit_mark()
    response = admin_client.post(f"/staff/policy/{rule.pk}/", {**form_data(rule), "step": "save"})
    assert response.status_code == 400
    assert "nothing to change" in response.content.decode()
    assert audit_since(mark) == []


# --- Jurisdiction policy: the services -------------------------------------------------


def test_the_services_refuse_unknown_categories_and_negative_numbers_and_change_nothing(admin):
    rule = default_rule("subscriber_data")
    before = terms(rule)
    mark = audit_mark()

    with pytest.raises(PolicyRefused) as unknown:
        policy_rule_update(
            rule=rule,
            actor=admin,
            **{**before, "disclosable_categories": ["subscriber_info", "bank_records"]},
            reason="Test.",
        )
    with pytest.raises(PolicyRefused) as negative:
        policy_rule_update(
            rule=rule,
            actor=admin,
            **{**before, "deadline_hours": -1, "max_period_days": -1},
            reason="Test.",
        )
    with pytest.raises(PolicyRefused) as country:
        policy_rule_create(
            actor=admin, country="XX", kind="subscriber_data", **before, reason="Test."
        )
    with pytest.raises(PolicyRefused) as twice:
        policy_rule_create(actor=admin, country="AT", kind="eu_epoc", **before, reason="Test.")

    assert unknown.value.problems == [
        ("disclosable_categories", "Unknown data categories: bank_records.")
    ]
    assert [name for name, _ in negative.value.problems] == ["deadline_hours", "max_period_days"]
    assert country.value.problems == [("country", "Choose a country.")]
    assert "has its own eu_epoc rule already" in str(twice.value)
    assert terms(PolicyRule.objects.get(pk=rule.pk)) == before
    assert PolicyRule.objects.count() == 6 + 26
    assert audit_since(mark) == []


def test_the_services_refuse_an_actor_who_is_not_a_vetting_admin():
    rule = default_rule("subscriber_data")
    mark = audit_mark()
    for role in (Role.REVIEWER, Role.OFFICER):
        actor = make_user(role=role)
        with pytest.raises(PermissionDenied):
            policy_rule_update(
                rule=rule, actor=actor, **{**terms(rule), "deadline_hours": 1}, reason="Test."
            )
        with pytest.raises(PermissionDenied):
            policy_rule_create(
                actor=actor, country="US", kind="court_order", **terms(rule), reason="Test."
            )
        with pytest.raises(PermissionDenied):
            rejection_overview(user=actor, filters=RejectionFilters.default(date.today()))  # noqa: DTZ011
    assert default_rule("subscriber_data").deadline_hours == 240
    assert audit_since(mark) == []


@pytest.mark.services
def test_two_admins_saving_the_same_rule_at_once_queue_and_the_second_is_refused(
    postgres, transactional_db
):
    first_admin, second_admin = make_vetting_admin(), make_vetting_admin()
    rule = default_rule("search_warrant")
    seen = rule.updated_at
    locked, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first_saves() -> None:
        try:
            with transaction.atomic():
                PolicyRule.objects.select_for_update().get(pk=rule.pk)
                locked.set()
                release.wait(10)
                policy_rule_update(
                    rule=rule,
                    actor=first_admin,
                    **{**terms(rule), "deadline_hours": 72},
                    reason="First.",
                    seen_updated_at=seen,
                )
        finally:
            connection.close()

    def second_saves() -> None:
        try:
            policy_rule_update(
                rule=rule,
                actor=second_admin,
                **{**terms(rule), "deadline_hours": 480},
                reason="Second.",
                seen_updated_at=seen,
            )
            outcome["second"] = "saved"
        except PolicyRefused as refused:
            outcome["second"] = refused.problems
        finally:
            connection.close()

    first = threading.Thread(target=first_saves)
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=second_saves)
    second.start()
    clock.sleep(0.5)
    assert second.is_alive(), "the second edit must wait for the row lock"
    release.set()
    first.join(10)
    second.join(10)

    assert PolicyRule.objects.get(pk=rule.pk).deadline_hours == 72
    assert outcome["second"] != "saved"
    events = AuditEvent.objects.filter(action="policy_rule.updated")
    assert [(e.actor_id, e.data["after"]["deadline_hours"]) for e in events] == [
        (first_admin.pk, 72)
    ]


# --- Jurisdiction policy: the effect on intake -----------------------------------------


@pytest.mark.usefixtures("intake_settings")
def test_a_policy_edit_changes_what_intake_accepts_from_the_next_submission(admin_client):
    officer = make_officer(agency=make_agency(country="DE"))
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]

    def send(**request):
        sub = submission(**request)
        return post_envelope(Client(), sub.sign(signer), sub.files, token)

    assert send().status_code == 201

    # Germany gets its own subscriber_data rule that refuses the kind.
    default = default_rule("subscriber_data")
    data = {**form_data(default, allowed="no"), "country": "DE", "kind": "subscriber_data"}
    assert admin_client.post("/staff/policy/add/", {**data, "step": "save"}).status_code == 302
    refused = send()
    assert refused.status_code == 422
    assert refused.json()["rule"] == "kind_not_allowed"

    # Accepted again, but only for subscriber information, due in two days.
    rule = PolicyRule.objects.get(country="DE", kind="subscriber_data")
    edit = form_data(
        rule, allowed="yes", disclosable_categories=["subscriber_info"], deadline_hours=48
    )
    assert (
        admin_client.post(f"/staff/policy/{rule.pk}/", {**edit, "step": "save"}).status_code == 302
    )
    too_much = send(data_categories=["ip_addresses"])
    assert too_much.status_code == 422
    assert too_much.json()["rule"] == "category_not_disclosable"
    accepted = send(data_categories=["subscriber_info"])
    assert accepted.status_code == 201
    request = LegalRequest.objects.get(reference=accepted.json()["reference"])
    assert request.due_at - request.received_at == timedelta(hours=48)

    # Other countries still follow the default.
    fr_officer = make_officer(agency=make_agency(country="FR"))
    fr_signer = enrol_signing_key(fr_officer)
    fr_token = make_api_token(officer=fr_officer)[1]
    sub = submission(data_categories=["ip_addresses"])
    assert post_envelope(Client(), sub.sign(fr_signer), sub.files, fr_token).status_code == 201


def test_policy_check_reads_the_edited_default_at_once(admin):
    agency = make_agency(country="FR")
    request = {
        "kind": "emergency",
        "data_categories": ["login_history", "device_info"],
        "period": {"from": date(2026, 1, 1), "to": date(2026, 1, 31)},
    }
    from portal.problems import Problem

    with pytest.raises(Problem) as refused:
        policy_check(agency=agency, request=request, attachments=[], today=date(2026, 2, 1))
    assert refused.value.extra["rule"] == "category_not_disclosable"

    rule = default_rule("emergency")
    policy_rule_update(
        rule=rule,
        actor=admin,
        **{**terms(rule), "disclosable_categories": [*rule.disclosable_categories, "device_info"]},
        reason="Device information may be disclosed in emergencies.",
    )

    allowed = policy_check(agency=agency, request=request, attachments=[], today=date(2026, 2, 1))
    assert allowed.pk == rule.pk


# --- Access ----------------------------------------------------------------------------


def staff_endpoints(rule: PolicyRule) -> list[tuple[str, str, dict]]:
    edit = form_data(rule, deadline_hours=1)
    add = {**form_data(rule), "country": "US", "kind": rule.kind}
    return [
        ("get", "/staff/policy/", {}),
        ("get", f"/staff/policy/{rule.pk}/", {}),
        ("post", f"/staff/policy/{rule.pk}/", edit),
        ("post", f"/staff/policy/{rule.pk}/", {**edit, "step": "save"}),
        ("get", "/staff/policy/add/", {}),
        ("get", "/staff/policy/add/", {"country": "US", "kind": rule.kind}),
        ("post", "/staff/policy/add/", add),
        ("post", "/staff/policy/add/", {**add, "step": "save"}),
    ]


@pytest.mark.parametrize("who", REFUSED)
def test_the_policy_pages_refuse_everyone_but_a_verified_vetting_admin_and_change_nothing(
    client, admin, who
):
    rule = default_rule("court_order")
    assert_refused_to_all_but_a_verified_vetting_admin(client, admin, who, staff_endpoints(rule))
