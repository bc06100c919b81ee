"""Staff pages of intake: rejections by code, agency, day and address; the policy editor.

Counts are checked against a fixture whose numbers are worked out by hand below. Policy
edits go through the pages (form, confirmation, save) and are then shown to change what
intake accepts. Everyone but a verified vetting administrator is refused everything.
"""

import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.intake import staff_selectors
from requests_app.intake.models import IntakeRejection
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
    PASSWORD,
    log_in,
    make_agency,
    make_api_token,
    make_officer,
    make_passkey,
    make_user,
    make_vetting_admin,
)
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = [pytest.mark.django_db]


# --- Helpers ---------------------------------------------------------------------------


@pytest.fixture
def admin():
    return make_vetting_admin(full_name="Vera Vetting", email="vera@platform.example")


@pytest.fixture
def admin_client(client, admin):
    log_in(client, admin)
    return client


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def reject(n: int, *, day: date, code: str, agency=None, ip=None, channel="api", officer=None):
    IntakeRejection.objects.bulk_create(
        IntakeRejection(
            at=noon(day) + timedelta(seconds=i),
            channel=channel,
            code=code,
            status=401 if code in ("bad_signature", "unknown_key", "unauthenticated") else 400,
            officer=officer,
            agency=agency,
            key_id="ed25519:" + "ab" * 32 if code in ("bad_signature", "unknown_key") else "",
            ip=ip,
            body_sha256=f"{i:064x}",
        )
        for i in range(n)
    )


class Attack:
    """The fixture: a quiet agency under attack, a noisy one, a careless one, strangers.

    T is today (UTC). Every rejection is at noon (plus seconds) of its day.
      A (DE): 1 unknown_key a day from T-60 to T-3 from 192.0.2.10, then 12 bad_signature
              on T-2 from 203.0.113.66: the burst.
      C (ES): 4 bad_signature a day from T-60 to T-1 from 192.0.2.30 (a broken client),
              then 10 on T: high, but under 3x its median of 4, so no burst.
      B (FR): 3 malformed on T-1 (web channel), 2 policy_violation on T-5, and 6
              bad_signature on T-40 (before the default range), from 192.0.2.20.
      No agency: 6 unauthenticated on T-2 from 198.51.100.7.

    In the default range T-29..T:
      A: 27 unknown_key + 12 bad_signature = 39;  C: 4 x 29 + 10 = 126;  B: 3 + 2 = 5;
      no agency: 6.  Total 176.  By code: bad_signature 138, unknown_key 27,
      unauthenticated 6, malformed 3, policy_violation 2.
      Signature failures per day (all agencies): 5 on most days, T-5: 5, T-2: 16,
      T-1: 4, T: 10. The median before T-2 is 5, so T-2 (16 >= 15) is a burst day.
    """

    def __init__(self, today: date) -> None:
        self.today = today
        T = today  # noqa: N806 (the docstring's name)
        self.a = make_agency(country="DE", name="Landeskriminalamt Berlin")
        self.b = make_agency(country="FR", name="Police nationale Lyon")
        self.c = make_agency(country="ES", name="Guardia Civil Madrid")
        self.officer_a = make_officer(agency=self.a)
        for n in range(3, 61):
            reject(
                1,
                day=T - timedelta(days=n),
                code="unknown_key",
                agency=self.a,
                ip="192.0.2.10",
                officer=self.officer_a,
            )
        reject(
            12,
            day=T - timedelta(days=2),
            code="bad_signature",
            agency=self.a,
            ip="203.0.113.66",
            officer=self.officer_a,
        )
        for n in range(1, 61):
            reject(
                4, day=T - timedelta(days=n), code="bad_signature", agency=self.c, ip="192.0.2.30"
            )
        reject(10, day=T, code="bad_signature", agency=self.c, ip="192.0.2.30")
        reject(
            3,
            day=T - timedelta(days=1),
            code="malformed",
            agency=self.b,
            ip="192.0.2.20",
            channel="web",
        )
        reject(
            2, day=T - timedelta(days=5), code="policy_violation", agency=self.b, ip="192.0.2.20"
        )
        reject(6, day=T - timedelta(days=40), code="bad_signature", agency=self.b, ip="192.0.2.20")
        reject(6, day=T - timedelta(days=2), code="unauthenticated", ip="198.51.100.7")


@pytest.fixture
def attack() -> Attack:
    return Attack(timezone.now().date())


def overview(admin, attack: Attack, **filters):
    base = RejectionFilters.default(attack.today)
    return rejection_overview(
        user=admin,
        filters=RejectionFilters(
            date_from=filters.pop("date_from", base.date_from),
            date_to=filters.pop("date_to", base.date_to),
            **filters,
        ),
    )


# --- Rejections: the counts ------------------------------------------------------------


def test_rejections_are_counted_by_code_agency_and_address_as_worked_out_by_hand(admin, attack):
    seen = overview(admin, attack)

    assert seen.total == 176
    assert [(row.code, row.count) for row in seen.by_code] == [
        ("bad_signature", 138),
        ("unknown_key", 27),
        ("unauthenticated", 6),
        ("malformed", 3),
        ("policy_violation", 2),
    ]
    assert [(row.name, row.count, row.signature_failures) for row in seen.by_agency] == [
        ("Guardia Civil Madrid", 126, 126),
        ("Landeskriminalamt Berlin", 39, 39),
        ("Sender not recognised", 6, 0),
        ("Police nationale Lyon", 5, 0),
    ]
    assert [(a.ip, a.count, a.signature_failures, a.agencies) for a in seen.addresses] == [
        ("192.0.2.30", 126, 126, 1),
        ("192.0.2.10", 27, 27, 1),
        ("203.0.113.66", 12, 12, 1),
        ("198.51.100.7", 6, 0, 0),
        ("192.0.2.20", 5, 0, 1),
    ]
    assert seen.signature_failures == 165


def test_rejections_are_counted_per_day_with_every_day_of_the_range_listed(admin, attack):
    T = attack.today  # noqa: N806
    days = {row.day: row for row in overview(admin, attack).by_day}

    assert list(days) == [T - timedelta(days=n) for n in range(30)]  # newest first
    assert (days[T].count, days[T].signature_failures) == (10, 10)
    assert (days[T - timedelta(days=1)].count, days[T - timedelta(days=1)].signature_failures) == (
        7,
        4,
    )
    assert (days[T - timedelta(days=2)].count, days[T - timedelta(days=2)].signature_failures) == (
        22,
        16,
    )
    assert (days[T - timedelta(days=5)].count, days[T - timedelta(days=5)].signature_failures) == (
        7,
        5,
    )
    assert {
        (row.count, row.signature_failures)
        for d, row in days.items()
        if (T - d).days not in (0, 1, 2, 5)
    } == {(5, 5)}
    assert sum(row.count for row in days.values()) == 176


def test_a_burst_of_bad_signatures_stands_out_by_agency_and_by_day(admin, attack):
    T = attack.today  # noqa: N806
    seen = overview(admin, attack)

    # A's 12 against a median of 1 is a burst; C's 10 against a median of 4 is not.
    assert [(b.day, b.name, b.signature_failures, b.baseline) for b in seen.bursts] == [
        (T - timedelta(days=2), "Landeskriminalamt Berlin", 12, 1.0)
    ]
    flagged = [(row.day, row.signature_failures, row.baseline) for row in seen.by_day if row.burst]
    assert flagged == [(T - timedelta(days=2), 16, 5.0)]


def test_the_filters_narrow_every_count(admin, attack):
    T = attack.today  # noqa: N806
    assert overview(admin, attack, code="bad_signature").total == 138
    assert overview(admin, attack, agency=str(attack.a.pk)).total == 39
    assert overview(admin, attack, agency="none").total == 6
    assert overview(admin, attack, channel="web").total == 3
    by_ip = overview(admin, attack, ip="203.0.113.66")
    assert by_ip.total == 12
    assert [(b.name, b.baseline) for b in by_ip.bursts] == [("Landeskriminalamt Berlin", 0.0)]
    # A code other than the signature codes leaves no signature failure to flag.
    assert overview(admin, attack, code="malformed").bursts == []
    # T-40 is outside the default range but inside a range that reaches it.
    wide = overview(admin, attack, date_from=T - timedelta(days=45), date_to=T - timedelta(days=35))
    assert [(row.name, row.count) for row in wide.by_agency] == [
        ("Guardia Civil Madrid", 44),
        ("Landeskriminalamt Berlin", 11),
        ("Police nationale Lyon", 6),
    ]
    # B's 6 on T-40 against a median of 0 is a burst of its own.
    assert [(b.day, b.name) for b in wide.bursts] == [
        (T - timedelta(days=40), "Police nationale Lyon")
    ]


def test_the_rejections_page_shows_the_counts_the_burst_and_the_newest_entries(
    admin_client, attack
):
    response = admin_client.get("/staff/rejections/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "176 rejections" in page
    assert '<tr class="burst">' in page
    assert "203.0.113.66" in page
    entries = response.context["overview"].page.entries
    assert len(entries) == staff_selectors.PAGE_SIZE
    assert entries[0].at == noon(attack.today) + timedelta(seconds=9)  # the newest first
    assert entries == sorted(entries, key=lambda e: e.at, reverse=True)
    assert response["Cache-Control"].startswith("max-age=0")


def test_what_an_attacker_sent_is_shown_escaped(admin_client):
    IntakeRejection.objects.create(
        channel="api",
        code="malformed",
        status=400,
        detail='Unknown field "<script>alert(1)</script>".',
        key_id="<img src=x onerror=alert(1)>",
        body_sha256="f" * 64,
    )
    page = admin_client.get("/staff/rejections/").content.decode()
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_the_rejections_page_filters_by_query_and_refuses_a_bad_range(admin_client, attack):
    response = admin_client.get(
        "/staff/rejections/", {"code": "malformed", "channel": "web", "agency": attack.b.pk}
    )
    assert response.status_code == 200
    assert response.context["overview"].total == 3

    backwards = admin_client.get(
        "/staff/rejections/", {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    too_long = admin_client.get(
        "/staff/rejections/", {"date_from": "2024-01-01", "date_to": "2026-01-01"}
    )
    unknown = admin_client.get("/staff/rejections/", {"code": "<script>", "agency": "999999"})
    for response in (backwards, too_long, unknown):
        assert response.status_code == 400
        assert response.context["overview"] is None
        assert 'role="alert"' in response.content.decode()
    assert "<script>" not in unknown.content.decode()


def test_the_entries_are_paged_within_a_bound(admin, attack, monkeypatch):
    monkeypatch.setattr(staff_selectors, "PAGE_SIZE", 10)
    monkeypatch.setattr(staff_selectors, "MAX_PAGES", 3)
    filters = RejectionFilters.default(attack.today)

    first = rejection_overview(user=admin, filters=filters, page=1).page
    third = rejection_overview(user=admin, filters=filters, page=3).page
    beyond = rejection_overview(user=admin, filters=filters, page=99).page

    assert (first.has_previous, first.has_next, first.capped) == (False, True, False)
    assert (third.has_next, third.capped) == (False, True)
    assert beyond.number == 3
    assert [e.pk for e in beyond.entries] == [e.pk for e in third.entries]
    everything = list(IntakeRejection.objects.order_by("-at", "-id").values_list("pk", flat=True))
    assert [e.pk for e in third.entries] == everything[20:30]


def test_the_rejections_page_needs_the_same_few_queries_however_large_the_log(
    admin_client, attack, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get("/staff/rejections/", {"page": 2}).status_code == 200
    for n in range(20):
        agency = make_agency(country="IT")
        reject(
            6,
            day=attack.today - timedelta(days=n),
            code="bad_signature",
            agency=agency,
            ip=f"192.0.2.{100 + n}",
        )
    with django_assert_max_num_queries(16):
        assert admin_client.get("/staff/rejections/", {"page": 3}).status_code == 200
    with CaptureQueriesContext(connection) as large:
        response = admin_client.get("/staff/rejections/", {"page": 2})
    assert len(response.context["overview"].bursts) == 21
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"] for q in large.captured_queries
    ]


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


@pytest.fixture
def intake_settings(settings, tmp_path):
    """No rate limit left over from other tests; attachments stored under ``tmp_path``."""
    settings.INTAKE_RATE_LIMITS = dict.fromkeys(settings.INTAKE_RATE_LIMITS, "100000/min")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    cache.clear()
    yield
    cache.clear()


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
        ("get", "/staff/rejections/", {}),
        ("get", "/staff/rejections/", {"code": "bad_signature"}),
        ("get", "/staff/policy/", {}),
        ("get", f"/staff/policy/{rule.pk}/", {}),
        ("post", f"/staff/policy/{rule.pk}/", edit),
        ("post", f"/staff/policy/{rule.pk}/", {**edit, "step": "save"}),
        ("get", "/staff/policy/add/", {}),
        ("get", "/staff/policy/add/", {"country": "US", "kind": rule.kind}),
        ("post", "/staff/policy/add/", add),
        ("post", "/staff/policy/add/", {**add, "step": "save"}),
    ]


def policy_state() -> dict:
    return {
        "rules": sorted(
            PolicyRule.objects.values_list(
                "pk",
                "country",
                "kind",
                "allowed",
                "deadline_hours",
                "max_period_days",
                "document_required",
                "updated_at",
            )
        ),
        "audit": sorted(
            AuditEvent.objects.exclude(action__startswith="auth.").values_list("seq", "action")
        ),
    }


@pytest.mark.parametrize("who", ["anonymous", "officer", "reviewer", "password-only admin"])
def test_staff_pages_refuse_everyone_but_a_verified_vetting_admin_and_change_nothing(
    client, admin, who
):
    reject(3, day=timezone.now().date(), code="bad_signature", ip="203.0.113.9")
    rule = default_rule("court_order")
    if who == "officer":
        officer = make_officer()
        make_passkey(officer.user)
        log_in(client, officer.user)
    elif who == "reviewer":
        log_in(client, make_user(role=Role.REVIEWER))
    elif who == "password-only admin":
        client.post("/login/", {"username": admin.email, "password": PASSWORD})
        assert "_auth_user_id" in client.session
    before = policy_state()

    for method, url, data in staff_endpoints(rule):
        response = getattr(client, method)(url, data)

        if who in ("officer", "reviewer"):
            assert response.status_code == 403, (method, url)
        elif who == "password-only admin":
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/verify/"), (method, url)
        else:
            assert response.status_code == 302, (method, url)
            assert response["Location"].startswith("/login/"), (method, url)
        page = response.content.decode()
        assert "203.0.113.9" not in page
        assert "Jurisdiction policy" not in page

    assert policy_state() == before
