"""The audit log's API: public signed tree heads and consistency proofs, without any event
content; inclusion proofs for an officer's own requests only (404 for anything else)."""

import hashlib
from typing import Any

import pytest
import yaml
from django.test import Client

from accounts.models import Officer
from portal import crypto
from portal.audit import audit_append, canonical_event
from portal.models import AuditEvent
from portal.sequencer import audit_sequence
from portal.tree_heads import head_message
from requests_app.models import LegalRequest
from requests_app.officer.sharing import request_share
from tests.factories import make_agency, make_api_token, make_officer
from tests.portal import rfc9162
from tests.requests_app.factories import make_legal_request

pytestmark = pytest.mark.django_db

HEAD_KEYS = {"tree_size", "root_hash", "timestamp", "alg", "key_id", "signature", "rfc3161"}


def bearer(officer: Officer) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {make_api_token(officer=officer)[1]}"}


def assert_problem(response: Any, code: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert (problem["code"], problem["status"]) == (code, status)
    return problem


def request_events(request: LegalRequest) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            target_type="requests_app.legalrequest", target_id=str(request.pk)
        ).order_by("seq")
    )


def signature_holds(head: dict[str, Any]) -> bool:
    try:
        crypto.ed25519_verify(
            crypto.portal_signing_key().public_key(),
            crypto.b64decode_strict(head["signature"]),
            head_message(head["tree_size"], head["root_hash"], head["timestamp"]),
        )
    except crypto.BadSignature:
        return False
    return True


@pytest.fixture
def officer() -> Officer:
    return make_officer()


@pytest.fixture
def own_request(officer: Officer) -> LegalRequest:
    return make_legal_request(officer=officer)


@pytest.fixture
def log(own_request: LegalRequest) -> None:
    """A few events besides the request's, in the tree in two heads."""
    for n in range(4):
        audit_append(action="test.other", target_type="test", target_id=str(n), data={"n": n})
    audit_sequence(publish=False)
    audit_append(action="test.other", target_type="test", target_id="late")
    audit_sequence(publish=False)


# --- Public: tree heads and consistency ---------------------------------------------------------


def test_before_any_head_the_public_endpoints_answer_not_found(client: Client) -> None:
    assert_problem(client.get("/api/v1/audit/tree-heads/latest"), "not_found", 404)
    assert_problem(client.get("/api/v1/audit/consistency?first=1&second=1"), "not_found", 404)


def test_the_latest_head_is_public_signed_and_holds_no_event_content(
    client: Client, log: None
) -> None:
    response = client.get("/api/v1/audit/tree-heads/latest")

    assert response.status_code == 200
    head = response.json()
    assert set(head) == HEAD_KEYS
    assert head["tree_size"] == AuditEvent.objects.count()
    assert signature_holds(head)
    events = AuditEvent.objects.order_by("leaf__index")
    assert head["root_hash"] == rfc9162.mth([canonical_event(e) for e in events]).hex()
    body = response.content.decode()
    for event in events:
        assert event.action not in body
        assert event.actor_label not in body
    assert response["Cache-Control"] == "public, max-age=5"


def test_a_head_of_a_given_size_and_the_proof_between_two(client: Client, log: None) -> None:
    latest = client.get("/api/v1/audit/tree-heads/latest").json()
    older_size = latest["tree_size"] - 1

    older = client.get(f"/api/v1/audit/tree-heads?size={older_size}")
    assert older.status_code == 200
    old = older.json()
    assert (old["tree_size"], signature_holds(old)) == (older_size, True)

    answer = client.get(
        f"/api/v1/audit/consistency?first={older_size}&second={latest['tree_size']}"
    )
    assert answer.status_code == 200
    proof = answer.json()
    assert (proof["first"], proof["second"]) == (older_size, latest["tree_size"])
    assert rfc9162.verify_consistency(
        older_size,
        latest["tree_size"],
        bytes.fromhex(old["root_hash"]),
        bytes.fromhex(latest["root_hash"]),
        [bytes.fromhex(item) for item in proof["proof"]],
    )
    # a head that was never signed at that size is not found
    assert_problem(client.get("/api/v1/audit/tree-heads?size=3"), "not_found", 404)


@pytest.mark.parametrize(
    "query",
    ["", "?size=", "?size=x", "?size=-1", "?size=1.5", f"?size={2**53}", f"?size={2**70}"],
)
def test_a_malformed_size_is_refused(client: Client, log: None, query: str) -> None:
    assert_problem(client.get(f"/api/v1/audit/tree-heads{query}"), "malformed", 400)


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ("first=3&second=2", "malformed", 400),
        ("first=0&second=2", "malformed", 400),
        ("first=1", "malformed", 400),
        ("first=1&second=999", "not_found", 404),
    ],
)
def test_a_consistency_proof_outside_the_signed_tree_is_refused(
    client: Client, log: None, query: str, code: str, status: int
) -> None:
    assert_problem(client.get(f"/api/v1/audit/consistency?{query}"), code, status)


# --- Inclusion: the officer's own requests only ----------------------------------------------


def test_an_officer_gets_the_inclusion_proof_of_an_event_of_their_request(
    client: Client, officer: Officer, own_request: LegalRequest, log: None
) -> None:
    event = request_events(own_request)[0]

    response = client.get(f"/api/v1/audit/inclusion?event={event.seq}", **bearer(officer))

    assert response.status_code == 200, response.content
    proof = response.json()
    leaf = hashlib.sha256(b"\x00" + canonical_event(event)).hexdigest()
    assert (proof["event"], proof["action"], proof["leaf_hash"]) == (event.seq, event.action, leaf)
    head = proof["tree_head"]
    assert signature_holds(head)
    assert head["tree_size"] == proof["tree_size"]
    assert rfc9162.verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        bytes.fromhex(leaf),
        [bytes.fromhex(item) for item in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )
    # the event's content is not sent: the actor and the data stay with the portal
    assert event.actor_label not in response.content.decode() or event.actor_label == "system"
    assert "data" not in proof


def test_another_officers_event_is_not_found(
    client: Client, officer: Officer, own_request: LegalRequest, log: None
) -> None:
    event = request_events(own_request)[0]
    colleague = make_officer(agency=officer.agency)
    stranger = make_officer(agency=make_agency())
    their_request = make_legal_request(officer=colleague)
    audit_sequence(publish=False)
    theirs = request_events(their_request)[0]

    # a colleague the request was not shared with, an officer of another agency
    for other in (colleague, stranger):
        assert_problem(
            client.get(f"/api/v1/audit/inclusion?event={event.seq}", **bearer(other)),
            "not_found",
            404,
        )
    # the officer asking for the colleague's event, or for a number nobody has
    for seq in (theirs.seq, 10**9):
        assert_problem(
            client.get(f"/api/v1/audit/inclusion?event={seq}", **bearer(officer)),
            "not_found",
            404,
        )


def test_an_event_not_about_a_request_is_not_found_even_the_officers_own(
    client: Client, officer: Officer, log: None
) -> None:
    own_login = audit_append(actor=officer.user, action="auth.password_ok", target=officer.user)
    audit_sequence(publish=False)
    assert_problem(
        client.get(f"/api/v1/audit/inclusion?event={own_login.seq}", **bearer(officer)),
        "not_found",
        404,
    )


def test_a_colleague_the_request_is_shared_with_gets_the_proof(
    client: Client, officer: Officer, own_request: LegalRequest, log: None
) -> None:
    colleague = make_officer(agency=officer.agency)
    request_share(request=own_request, officer=officer, colleague=colleague)
    audit_sequence(publish=False)
    event = request_events(own_request)[0]
    response = client.get(f"/api/v1/audit/inclusion?event={event.seq}", **bearer(colleague))
    assert response.status_code == 200, response.content


def test_an_event_not_yet_in_a_signed_head_is_a_conflict_to_retry(
    client: Client, officer: Officer, own_request: LegalRequest, log: None
) -> None:
    event = audit_append(action="legal_request.noted", target=own_request)
    response = client.get(f"/api/v1/audit/inclusion?event={event.seq}", **bearer(officer))
    problem = assert_problem(response, "invalid_state", 409)
    assert (problem["retry_after"], response["Retry-After"]) == (10, "10")


def test_inclusion_against_an_older_head_and_refusals(
    client: Client, officer: Officer, own_request: LegalRequest, log: None
) -> None:
    event = request_events(own_request)[0]
    older = AuditEvent.objects.count() - 1
    response = client.get(
        f"/api/v1/audit/inclusion?event={event.seq}&tree_size={older}", **bearer(officer)
    )
    assert response.status_code == 200
    assert response.json()["tree_size"] == older
    assert_problem(
        client.get(f"/api/v1/audit/inclusion?event={event.seq}&tree_size=2", **bearer(officer)),
        "not_found",
        404,
    )
    assert_problem(
        client.get("/api/v1/audit/inclusion?event=abc", **bearer(officer)), "malformed", 400
    )
    assert_problem(client.get(f"/api/v1/audit/inclusion?event={event.seq}"), "unauthenticated", 401)


def test_the_endpoints_are_described_with_problem_answers(client: Client) -> None:
    schema = yaml.safe_load(client.get("/api/v1/schema").content)
    paths = schema["paths"]
    expected = {
        "/api/v1/audit/tree-heads/latest": ["404"],
        "/api/v1/audit/tree-heads": ["400", "404"],
        "/api/v1/audit/consistency": ["400", "404"],
        "/api/v1/audit/inclusion": ["400", "401", "403", "404", "409"],
    }
    for path, errors in expected.items():
        operation = paths[path]["get"]
        for status in errors:
            assert "application/problem+json" in operation["responses"][status]["content"], (
                path,
                status,
            )
    assert paths["/api/v1/audit/tree-heads/latest"]["get"].get("security", [{}]) in ([{}], [])
