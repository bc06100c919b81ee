"""The decision tools through their pages: the reviewer's path, and every attack on it.

Each attack is checked twice: the refusal (its status and message), and that nothing
changed: no decision, disclosure, message, callback or assessment, no change of state or
assignee, and no audit event at all.
"""

from datetime import UTC, date, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.delivery.models import Disclosure
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.lifecycle.models import LegalRequest, Message, ReviewState
from requests_app.review import services
from requests_app.review.disclosure import disclosure_preview
from requests_app.review.models import Assessment, AssessmentItem, Decision, EmergencyCallback
from tests.factories import PASSWORD, log_in, make_officer, make_user
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.factories import make_legal_request, make_reviewer

pytestmark = pytest.mark.django_db

S = LegalRequest.Status
ALL_OK = {item.value: {"ok": True, "note": ""} for item in AssessmentItem}
CHECKLIST_ALL_YES = {item.value: "yes" for item in AssessmentItem}


# --- Data and sessions ------------------------------------------------------------------------


@pytest.fixture
def directory() -> None:
    """Two platform accounts with IP addresses inside and outside the asked period."""
    one = PlatformAccount.objects.create(
        user_id="700001",
        username="suspect_one",
        phone_number="+4915100000001",
        email="one@mail.example",
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    two = PlatformAccount.objects.create(
        user_id="700002",
        username="suspect_two",
        phone_number="+4915100000002",
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    for account, ip, day in [
        (one, "198.51.100.10", datetime(2026, 2, 10, 8, tzinfo=UTC)),
        (one, "198.51.100.11", datetime(2026, 1, 10, 8, tzinfo=UTC)),  # before the approved part
        (one, "198.51.100.12", datetime(2025, 12, 1, 8, tzinfo=UTC)),  # before the asked period
        (two, "198.51.100.20", datetime(2026, 2, 10, 8, tzinfo=UTC)),
    ]:
        PlatformIpEvent.objects.create(account=account, kind="login", ip=ip, at=day)


def make_request(**fields) -> LegalRequest:
    """Two targets, two categories, asked period 2026-01-01 to 2026-03-31."""
    fields.setdefault("targets", [("username", "suspect_one"), ("username", "suspect_two")])
    fields.setdefault("data_categories", ["ip_addresses", "phone_number"])
    return make_legal_request(**fields)


@pytest.fixture
def first():
    return make_reviewer(full_name="Ada First")


@pytest.fixture
def second():
    return make_reviewer(full_name="Bo Second")


@pytest.fixture
def first_client(first) -> Client:
    client = Client()
    log_in(client, first)
    return client


@pytest.fixture
def second_client(second) -> Client:
    client = Client()
    log_in(client, second)
    return client


def url(name: str, request: LegalRequest, decision: Decision | int | None = None) -> str:
    args: list = [request.reference]
    if decision is not None:
        args.append(decision if isinstance(decision, int) else decision.pk)
    return reverse(name, args=args)


def in_review(reviewer, **fields) -> LegalRequest:
    request = make_request(**fields)
    services.request_claim(request=request, reviewer=reviewer)
    return LegalRequest.objects.get(pk=request.pk)


def proposed(reviewer, **fields) -> tuple[LegalRequest, Decision]:
    """A request in review whose checklist is all satisfied and whose approval is proposed."""
    request = in_review(reviewer, **fields)
    services.assessment_save(request=request, reviewer=reviewer, items=ALL_OK)
    first_target = request.targets.get(value="suspect_one")
    decision = services.decision_propose_approval(
        request=request,
        reviewer=reviewer,
        target_ids=[first_target.pk],
        categories=["ip_addresses"],
        period_from=date(2026, 2, 1),
        period_to=date(2026, 3, 31),
    )
    return request, decision


def confirmed(first, second, **fields) -> tuple[LegalRequest, Decision]:
    request, decision = proposed(first, **fields)
    disclosure_preview(decision=decision, viewer=second)
    services.decision_confirm(decision=decision, reviewer=second)
    return LegalRequest.objects.get(pk=request.pk), decision


def snapshot() -> dict:
    """Everything an action could change, to compare before and after an attack."""
    return {
        "audit": list(AuditEvent.objects.order_by("seq").values_list("seq", "action")),
        "status": dict(LegalRequest.objects.values_list("reference", "status")),
        "due": dict(LegalRequest.objects.values_list("reference", "due_at")),
        "assignees": dict(ReviewState.objects.values_list("request_id", "assignee_id")),
        "decisions": list(
            Decision.objects.order_by("pk").values(
                "pk",
                "state",
                "outcome",
                "approved_target_ids",
                "approved_categories",
                "approved_period_from",
                "approved_period_to",
                "confirmed_by",
            )
        ),
        "disclosures": list(Disclosure.objects.values_list("pk", "decision_id", "state")),
        "messages": Message.objects.count(),
        "callbacks": EmergencyCallback.objects.count(),
        "assessments": list(Assessment.objects.values_list("request_id", "items")),
    }


def page(response) -> str:
    return response.content.decode()


# --- The reviewer's path --------------------------------------------------------------------------


def test_the_request_page_shows_only_the_tools_that_the_state_allows(first, first_client, second):
    received = make_request()
    reviewing = in_review(first)
    approved, decision = confirmed(first, second)
    rejected = in_review(first)
    services.decision_reject(
        request=rejected, reviewer=first, reason_code="incomplete", message="No order attached."
    )

    new_page = page(first_client.get(url("review-request", received)))
    assert f'action="{url("review-claim", received)}"' in new_page
    assert url("review-assess", received) not in new_page
    assert url("review-propose", received) not in new_page
    assert url("review-reject", received) not in new_page

    working = page(first_client.get(url("review-request", reviewing)))
    # The checklist and the proposal are one form (review-decide), sent with one click.
    for name in ("review-decide", "review-clarify", "review-reject"):
        assert f'action="{url(name, reviewing)}"' in working
    assert url("review-claim", reviewing) not in working  # already mine
    assert url("review-callback", reviewing) not in working  # not an emergency

    done = page(first_client.get(url("review-request", approved)))
    assert url("review-disclose", approved, decision) in done
    for name in ("review-assess", "review-propose", "review-decide", "review-clarify"):
        assert url(name, approved) not in done
    assert url("review-reject", approved) not in done

    # A rejected request is only closed (with a reason): no other tool is offered.
    closed = page(first_client.get(url("review-request", rejected)))
    assert f'action="{url("review-close", rejected)}"' in closed
    for name in ("review-assess", "review-decide", "review-clarify", "review-reject"):
        assert url(name, rejected) not in closed


@pytest.mark.usefixtures("directory")
def test_a_reviewer_claims_assesses_and_proposes_in_part_then_sees_only_the_approved_records(
    first, first_client
):
    request = make_request()
    suspect_one = request.targets.get(value="suspect_one")

    assert first_client.post(url("review-claim", request)).status_code == 302
    saved = first_client.post(
        url("review-assess", request),
        {**CHECKLIST_ALL_YES, "scope_proportionate_note": "Two months suffice."},
    )
    assert saved.status_code == 302, page(saved)
    proposal = first_client.post(
        url("review-propose", request),
        {
            "targets": [suspect_one.pk],
            "categories": ["ip_addresses"],
            "period_from": "2026-02-01",
            "period_to": "2026-03-31",
            "message": "Only the IP addresses of the first account are proportionate.",
            "note": "Second target is a bystander.",
        },
    )

    decision = Decision.objects.get()
    assert proposal.status_code == 302, page(proposal)
    assert proposal["Location"] == url("review-preview", request, decision)
    assert decision.outcome == Decision.Outcome.APPROVE_PARTIAL
    assert decision.approved_target_ids == [suspect_one.pk]
    assert decision.approved_categories == ["ip_addresses"]
    assert Assessment.objects.get().items["scope_proportionate"] == {
        "ok": True,
        "note": "Two months suffice.",
    }

    preview = page(first_client.get(proposal["Location"]))
    assert "198.51.100.10" in preview  # the approved target, category and period
    assert "198.51.100.11" not in preview  # before the approved part of the period
    assert "198.51.100.12" not in preview  # before the asked period
    assert "198.51.100.20" not in preview  # the target left out
    assert "+4915100000001" not in preview  # the category left out
    assert "Waiting for a second reviewer" in preview
    assert url("review-confirm", request, decision) not in preview  # not for the proposer
    previewed = AuditEvent.objects.get(action="disclosure.previewed")
    assert previewed.actor_id == first.pk
    assert previewed.data["targets"] == ["username:suspect_one"]
    assert previewed.data["categories"] == ["ip_addresses"]


@pytest.mark.usefixtures("directory")
def test_the_preview_lists_the_files_in_scope_by_description_only(
    first, first_client, settings, tmp_path
):
    tmp_storage(settings, tmp_path)
    one = PlatformAccount.objects.get(username="suspect_one")
    inside = platform_file_store(
        account=one,
        name="logins-2026-02-10.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=b"at,ip\n2026-02-10T08:00:00Z,198.51.100.10\n",
        at=datetime(2026, 2, 10, 8, tzinfo=UTC),
    )
    platform_file_store(
        account=one,
        name="logins-2025-12-01.csv",  # before the approved period
        media_type="text/csv",
        category="ip_addresses",
        data=b"at,ip\n2025-12-01T08:00:00Z,198.51.100.12\n",
        at=datetime(2025, 12, 1, 8, tzinfo=UTC),
    )
    _, decision = proposed(first)

    preview = page(first_client.get(url("review-preview", decision.request, decision)))

    assert "logins-2026-02-10.csv" in preview
    assert inside.sha256 in preview
    assert "logins-2025-12-01.csv" not in preview
    assert "at,ip" not in preview  # the content is not opened here


@pytest.mark.usefixtures("directory")
def test_a_second_reviewer_previews_confirms_and_hands_the_approval_to_delivery(
    first, second, second_client
):
    request, decision = proposed(first)

    preview = page(second_client.get(url("review-preview", request, decision)))
    assert f'action="{url("review-confirm", request, decision)}"' in preview
    assert "198.51.100.10" in preview
    confirmed_response = second_client.post(url("review-confirm", request, decision))
    assert confirmed_response.status_code == 302, page(confirmed_response)
    assert confirmed_response["Location"] == url("review-disclose", request, decision)

    hand_over = page(second_client.get(confirmed_response["Location"]))
    assert "198.51.100.10" in hand_over
    assert "198.51.100.20" not in hand_over
    handed = second_client.post(url("review-disclose", request, decision), {"note": "As approved."})

    assert handed.status_code == 302, page(handed)
    disclosure = Disclosure.objects.get()
    assert (disclosure.decision_id, disclosure.state, disclosure.created_by_id) == (
        decision.pk,
        Disclosure.State.PENDING,
        second.pk,
    )
    assert disclosure.note_to_authority == "As approved."
    assert LegalRequest.objects.get(pk=request.pk).status == S.APPROVED
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-4:] == [
        "disclosure.previewed",
        "legal_request.confirm_approval",
        "disclosure.previewed",
        "disclosure.created",
    ]
    assert audit_chain_verify().ok


def test_a_reviewer_asks_for_clarification_and_the_clock_stops(first, first_client):
    request = in_review(first)
    response = first_client.post(
        url("review-clarify", request), {"body": "Which of the two accounts?"}
    )
    assert response.status_code == 302
    assert LegalRequest.objects.get(pk=request.pk).status == S.AWAITING_CLARIFICATION
    assert Message.objects.get().body == "Which of the two accounts?"
    assert ReviewState.objects.get(request=request).paused_since is not None


def test_a_reviewer_rejects_with_a_reason_and_a_message(first, first_client):
    request = in_review(first)
    response = first_client.post(
        url("review-reject", request),
        {"reason_code": "authority_not_competent", "message": "A court must validate this."},
    )
    assert response.status_code == 302
    decision = Decision.objects.get()
    assert (decision.outcome, decision.reason_code) == ("reject", "authority_not_competent")
    assert LegalRequest.objects.get(pk=request.pk).status == S.REJECTED


def test_a_rejection_without_a_reason_or_a_message_is_refused(first, first_client):
    request = in_review(first)
    before = snapshot()
    response = first_client.post(url("review-reject", request), {"message": "  "})
    assert response.status_code == 400
    assert "Reason" in page(response)
    assert snapshot() == before


def test_the_callback_records_the_number_on_file_and_never_a_typed_one(first, first_client):
    request = in_review(first, kind="emergency")
    on_file = request.agency.callback_phone
    tools = page(first_client.get(url("review-request", request)))
    assert on_file in tools

    typed = first_client.post(
        url("review-callback", request), {"outcome": "confirmed", "number": "+15555550100"}
    )
    assert typed.status_code == 400
    assert EmergencyCallback.objects.count() == 0

    called = first_client.post(
        url("review-callback", request), {"outcome": "confirmed", "note": "Duty officer."}
    )
    assert called.status_code == 302
    assert EmergencyCallback.objects.get().number_called == on_file


def test_a_checklist_item_not_satisfied_needs_a_note(first, first_client):
    request = in_review(first)
    before = snapshot()
    response = first_client.post(
        url("review-assess", request), {**CHECKLIST_ALL_YES, "no_abuse": "no"}
    )
    assert response.status_code == 400
    assert "Say why this item is not satisfied." in page(response)
    assert snapshot() == before


def test_a_proposal_before_the_checklist_is_satisfied_is_refused(first, first_client):
    request = in_review(first)
    before = snapshot()
    response = first_client.post(
        url("review-propose", request),
        {
            "targets": list(request.targets.values_list("pk", flat=True)),
            "categories": ["ip_addresses"],
            "period_from": "2026-01-01",
            "period_to": "2026-03-31",
        },
    )
    assert response.status_code == 409
    assert "Complete the checklist" in page(response)
    assert snapshot() == before


# --- Attacks: who may act ------------------------------------------------------------------------

ACTION_ROUTES = [
    # (route, takes a decision, methods)
    ("review-claim", False, ("POST",)),
    ("review-assign", False, ("POST",)),
    ("review-assess", False, ("POST",)),
    ("review-clarify", False, ("POST",)),
    ("review-callback", False, ("POST",)),
    ("review-propose", False, ("POST",)),
    ("review-decide", False, ("POST",)),
    ("review-reject", False, ("POST",)),
    ("review-preview", True, ("GET",)),
    ("review-confirm", True, ("POST",)),
    ("review-send-back", True, ("POST",)),
    ("review-disclose", True, ("GET", "POST")),
]

# A body that would succeed for a reviewer, so a refusal is the gate's, not the form's.
BODIES = {
    "review-assess": CHECKLIST_ALL_YES,
    "review-clarify": {"body": "Which one?"},
    "review-callback": {"outcome": "confirmed"},
    "review-reject": {"reason_code": "incomplete", "message": "No."},
    "review-send-back": {"note": "No."},
    "review-propose": {
        "categories": ["ip_addresses"],
        "period_from": "2026-01-01",
        "period_to": "2026-03-31",
    },
    "review-decide": {
        **CHECKLIST_ALL_YES,
        "then": "propose",
        "categories": ["ip_addresses"],
        "period_from": "2026-01-01",
        "period_to": "2026-03-31",
    },
}


def _attempts(client: Client, request: LegalRequest, decision: Decision, assignee) -> list:
    responses = []
    for name, on_decision, methods in ACTION_ROUTES:
        target = url(name, request, decision if on_decision else None)
        body = dict(BODIES.get(name, {}))
        if name == "review-assign":
            body["assignee"] = assignee.pk
        if name in ("review-propose", "review-decide"):
            body["targets"] = list(request.targets.values_list("pk", flat=True))
        for method in methods:
            response = client.get(target) if method == "GET" else client.post(target, body)
            responses.append((name, method, response))
    return responses


@pytest.mark.usefixtures("directory")
@pytest.mark.parametrize("who", ["officer of the agency", "vetting admin"])
def test_nobody_but_a_reviewer_reaches_any_decision_tool(client, first, second, who):
    request, decision = proposed(first, kind="emergency")
    if who == "officer of the agency":
        user = request.officer.user
    else:
        user = make_user(role=Role.VETTING_ADMIN)
    log_in(client, user)
    before = snapshot()

    for name, method, response in _attempts(client, request, decision, assignee=second):
        assert response.status_code == 403, (name, method)
        assert "198.51.100" not in page(response), (name, method)

    assert snapshot() == before


@pytest.mark.usefixtures("directory")
def test_an_officer_of_another_agency_reaches_no_decision_tool(client, first, second):
    request, decision = proposed(first)
    log_in(client, make_officer().user)
    before = snapshot()
    for name, method, response in _attempts(client, request, decision, assignee=second):
        assert response.status_code == 403, (name, method)
    assert snapshot() == before


@pytest.mark.usefixtures("directory")
def test_a_reviewer_session_without_the_second_factor_reaches_no_decision_tool(
    client, first, second
):
    request, decision = proposed(first)
    logged = client.post("/login/", {"username": second.email, "password": PASSWORD})
    assert logged.status_code == 302
    before = snapshot()

    for name, method, response in _attempts(client, request, decision, assignee=second):
        assert response.status_code == 302, (name, method)
        assert response["Location"].startswith(reverse("login-verify")), (name, method)

    assert snapshot() == before
    assert Decision.objects.get().state == Decision.State.PROPOSED


def test_an_unknown_reference_or_another_requests_decision_is_not_found(
    first, second, second_client
):
    request, _ = proposed(first)
    other, other_decision = proposed(first)
    before = snapshot()

    assert second_client.post(reverse("review-claim", args=["LR-NOPE"])).status_code == 404
    assert second_client.get(reverse("review-preview", args=["LR-NOPE", 1])).status_code == 404
    for name in ("review-confirm", "review-send-back", "review-disclose"):
        response = second_client.post(url(name, request, other_decision), {"note": "x"})
        assert response.status_code == 404, name
    assert second_client.get(url("review-preview", request, other_decision)).status_code == 404

    assert snapshot()["decisions"] == before["decisions"]
    assert snapshot()["audit"][: len(before["audit"])] == before["audit"]


# --- Attacks: the four eyes ---------------------------------------------------------------------


@pytest.mark.usefixtures("directory")
def test_a_reviewer_cannot_confirm_their_own_proposal(first, first_client):
    request, decision = proposed(first)
    first_client.get(url("review-preview", request, decision))  # even after looking at it
    before = snapshot()

    response = first_client.post(url("review-confirm", request, decision))

    assert response.status_code == 409
    assert "nobody approves their own decision" in page(response)
    assert snapshot() == before
    assert Disclosure.objects.count() == 0


def test_a_second_reviewer_cannot_confirm_without_looking_at_the_records(first, second_client):
    request, decision = proposed(first)
    before = snapshot()

    response = second_client.post(url("review-confirm", request, decision))

    assert response.status_code == 409
    assert "Look at the records" in page(response)
    assert snapshot() == before


@pytest.mark.usefixtures("directory")
def test_nothing_is_disclosed_before_a_second_reviewer_confirms(first, first_client, second_client):
    request, decision = proposed(first)
    before = snapshot()

    for client in (first_client, second_client):
        response = client.post(url("review-disclose", request, decision), {"note": ""})
        assert response.status_code == 409
        assert "Only an approved request is disclosed." in page(response)

    assert snapshot() == before
    assert Disclosure.objects.count() == 0


@pytest.mark.usefixtures("directory")
@pytest.mark.parametrize("call", [None, "no_answer", "not_confirmed"])
def test_an_emergency_is_not_confirmed_without_a_confirmed_callback(first, second_client, call):
    request, decision = proposed(first, kind="emergency")
    if call:
        services.emergency_callback_record(request=request, reviewer=first, outcome=call)
    preview = page(second_client.get(url("review-preview", request, decision)))
    assert "needs a confirmed callback" in preview
    before = snapshot()

    response = second_client.post(url("review-confirm", request, decision))

    assert response.status_code == 409
    assert "confirmed callback" in page(response)
    assert snapshot() == before


# --- Attacks: a scope wider than the request ----------------------------------------------


def _other_requests_target_id() -> int:
    return make_request(targets=[("username", "bystander")]).targets.get().pk


WIDER = [
    pytest.param(lambda r, other: {"targets": [other]}, "Targets", id="another-requests-target"),
    pytest.param(
        lambda r, other: {"targets": [*r.targets.values_list("pk", flat=True), other]},
        "Targets",
        id="an-extra-target",
    ),
    pytest.param(
        lambda r, other: {"categories": ["ip_addresses", "subscriber_info"]},
        "Data categories",
        id="a-category-not-asked",
    ),
    pytest.param(
        lambda r, other: {"period_from": "2025-06-01"}, "cannot start before", id="earlier"
    ),
    pytest.param(lambda r, other: {"period_to": "2026-12-31"}, "cannot end after", id="later"),
    pytest.param(
        lambda r, other: {"scope": "all", "approved_target_ids": [other]},
        "does not take",
        id="extra-fields",
    ),
]


@pytest.mark.parametrize(("widen", "says"), WIDER)
def test_a_forged_proposal_wider_than_the_request_is_refused(first, first_client, widen, says):
    request = in_review(first)
    services.assessment_save(request=request, reviewer=first, items=ALL_OK)
    other = _other_requests_target_id()
    before = snapshot()
    body = {
        "targets": list(request.targets.values_list("pk", flat=True)),
        "categories": ["ip_addresses"],
        "period_from": "2026-01-01",
        "period_to": "2026-03-31",
        **widen(request, other),
    }

    response = first_client.post(url("review-propose", request), body)

    assert response.status_code == 400
    assert says in page(response)
    assert snapshot() == before
    assert Decision.objects.count() == 0


FORGED_SCOPE = {
    "targets": ["999999"],
    "categories": ["subscriber_info", "phone_number"],
    "period_from": "2020-01-01",
    "period_to": "2030-12-31",
}


@pytest.mark.usefixtures("directory")
def test_a_preview_link_that_tries_to_widen_the_scope_is_refused_and_looks_nothing_up(
    first, second_client
):
    request, decision = proposed(first)
    before = snapshot()

    response = second_client.get(url("review-preview", request, decision), FORGED_SCOPE)

    assert response.status_code == 400
    text = page(response)
    assert "takes no parameters" in text
    assert "198.51.100" not in text
    assert "+4915100000001" not in text
    assert snapshot() == before  # not even a "previewed" event: nothing was looked up
    assert second_client.post(url("review-preview", request, decision)).status_code == 405


@pytest.mark.usefixtures("directory")
def test_a_hand_over_post_that_carries_a_scope_is_refused_and_nothing_is_disclosed(
    first, second, second_client
):
    request, decision = confirmed(first, second)
    before = snapshot()

    response = second_client.post(
        url("review-disclose", request, decision), {"note": "", **FORGED_SCOPE}
    )

    assert response.status_code == 400
    assert "does not take" in page(response)
    assert snapshot() == before
    assert Disclosure.objects.count() == 0


@pytest.mark.usefixtures("directory")
def test_a_confirm_post_that_carries_a_scope_is_refused_and_nothing_changes(first, second_client):
    request, decision = proposed(first)
    second_client.get(url("review-preview", request, decision))
    before = snapshot()

    response = second_client.post(url("review-confirm", request, decision), FORGED_SCOPE)

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.usefixtures("directory")
def test_what_is_handed_to_delivery_is_the_decisions_scope_and_nothing_else(
    first, second, second_client
):
    from requests_app.lifecycle.scope import decision_records

    request, decision = confirmed(first, second)
    second_client.post(url("review-disclose", request, decision), {"note": ""})

    disclosure = Disclosure.objects.get()
    (answer,) = decision_records(disclosure.decision)
    assert answer.target.value == "suspect_one"
    assert answer.records == {
        "ip_addresses": [
            {"ip": "198.51.100.10", "port": None, "at": "2026-02-10T08:00:00Z", "kind": "login"}
        ]
    }
