"""A request's audit events for its officer (PROTOCOL §4.11) and the receipt's event (§6.6).

The receipt names the number of the event that records the submission and where its
proof is; once the sequencer has placed it, the officer gets its position and an
inclusion proof that verifies, with RFC 9162's own algorithm, against a signed tree head.
Another officer's request is "not found", and none of its events' content is sent.
"""

import hashlib
from typing import Any

import pytest
import rfc8785
from django.test import Client

from accounts.models import Officer
from portal import crypto
from portal.audit import audit_append, canonical_event
from portal.models import AuditEvent
from portal.sequencer import audit_sequence
from portal.tree_heads import head_message
from requests_app.lifecycle.models import LegalRequest
from requests_app.officer.receipt import receipt_context
from requests_app.officer.sharing import request_share
from tests.factories import make_agency, make_api_token, make_officer
from tests.portal import rfc9162
from tests.requests_app.factories import make_legal_request
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission

pytestmark = pytest.mark.django_db


def bearer(officer: Officer) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {make_api_token(officer=officer)[1]}"}


def events_of(request: LegalRequest) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            target_type="requests_app.legalrequest", target_id=str(request.pk)
        ).order_by("seq")
    )


def verified_against_signed_head(proof: dict[str, Any], event: AuditEvent) -> bool:
    """The proof's head is signed by the portal and the event's leaf is in its tree."""
    head = proof["tree_head"]
    crypto.ed25519_verify(
        crypto.portal_signing_key().public_key(),
        crypto.b64decode_strict(head["signature"]),
        head_message(head["tree_size"], head["root_hash"], head["timestamp"]),
    )
    leaf = rfc9162.leaf(canonical_event(event))
    return leaf.hex() == proof["leaf_hash"] and rfc9162.verify_inclusion(
        proof["leaf_index"],
        head["tree_size"],
        leaf,
        [bytes.fromhex(item) for item in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )


# --- The receipt names its event ------------------------------------------------------------


def test_the_receipt_names_its_audit_event_whose_proof_follows_once_sequenced(
    client: Client,
) -> None:
    officer = make_officer()
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    sub = submission()
    signed = sub.sign(signer)

    answer = post_envelope(client, signed, sub.files, token)

    assert answer.status_code == 201, answer.content
    receipt = answer.json()["receipt"]
    request = LegalRequest.objects.get(reference=answer.json()["reference"])
    received = AuditEvent.objects.get(action="legal_request.received", target_id=str(request.pk))
    assert receipt["audit_event"] == received.seq
    assert receipt["audit_inclusion"] == f"/api/v1/audit/inclusion?event={received.seq}"
    # what is signed did not change: the three fields, checked as §6.6 says
    signed_bytes = rfc8785.dumps(
        {k: receipt[k] for k in ("payload_sha256", "received_at", "reference")}
    )
    crypto.ed25519_verify(
        crypto.portal_signing_key().public_key(),
        crypto.b64decode_strict(receipt["signature"]),
        signed_bytes,
    )

    # before the sequencer runs, the pointer answers "not yet"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    early = client.get(receipt["audit_inclusion"], **auth)
    assert (early.status_code, early["Retry-After"]) == (409, "10")

    audit_sequence(publish=False)
    proof = client.get(receipt["audit_inclusion"], **auth).json()
    assert proof["event"] == received.seq
    assert verified_against_signed_head(proof, received)
    # a retry of the same bytes answers the same receipt, pointer included
    again = post_envelope(client, signed, sub.files, token)
    assert again.json()["receipt"] == receipt
    # and the printable receipt prints it
    context = receipt_context(request)
    assert (context["audit_event"], context["audit_inclusion"]) == (
        received.seq,
        receipt["audit_inclusion"],
    )


# --- The list of a request's events ----------------------------------------------------------


def test_an_officer_lists_their_requests_events_with_positions_and_proves_each(
    client: Client,
) -> None:
    officer = make_officer()
    request = make_legal_request(officer=officer)
    audit_append(action="legal_request.noted", target=request, data={"note": "secret note"})
    audit_sequence(publish=False)
    late = audit_append(action="legal_request.noted", target=request)  # not sequenced yet
    auth = bearer(officer)

    response = client.get(f"/api/v1/submissions/{request.reference}/audit-events", **auth)

    assert response.status_code == 200, response.content
    listed = response.json()
    events = events_of(request)
    assert [item["event"] for item in listed] == [event.seq for event in events]
    assert {tuple(item) for item in listed} == {
        ("event", "action", "created_at", "leaf_index", "leaf_hash", "inclusion")
    }
    assert listed[-1]["event"] == late.seq
    assert (listed[-1]["leaf_index"], listed[-1]["leaf_hash"]) == (None, None)
    # no content: not the data, not who acted
    assert "secret note" not in response.content.decode()
    for item, event in zip(listed[:-1], events[:-1], strict=True):
        assert item["leaf_index"] == event.leaf.index
        assert item["leaf_hash"] == hashlib.sha256(b"\x00" + canonical_event(event)).hexdigest()
        proof = client.get(item["inclusion"], **auth)
        assert proof.status_code == 200, proof.content
        assert proof.json()["leaf_index"] == item["leaf_index"]
        assert verified_against_signed_head(proof.json(), event)


def test_another_officers_request_is_not_found_and_none_of_its_events_is_sent(
    client: Client,
) -> None:
    officer = make_officer()
    own = make_legal_request(officer=officer)
    colleague = make_officer(agency=officer.agency)
    stranger = make_officer(agency=make_agency())
    theirs = make_legal_request(officer=colleague)
    audit_append(action="legal_request.noted", target=theirs, data={"note": "their secret"})
    audit_sequence(publish=False)
    their_events = events_of(theirs)

    for caller, reference in (
        (officer, theirs.reference),  # a colleague's request not shared with them
        (stranger, theirs.reference),  # another agency's
        (stranger, own.reference),
        (officer, "LR-2026-000000000000"),  # no such request: the same answer
    ):
        response = client.get(f"/api/v1/submissions/{reference}/audit-events", **bearer(caller))
        assert response.status_code == 404, (caller, reference)
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
        body = response.content.decode()
        assert "their secret" not in body
        assert "event" not in response.json()
        # nor does the proof of one of their events answer
        for event in their_events:
            proof = client.get(f"/api/v1/audit/inclusion?event={event.seq}", **bearer(caller))
            assert proof.status_code == 404

    # the officer's own list holds only their request's events
    mine = client.get(f"/api/v1/submissions/{own.reference}/audit-events", **bearer(officer))
    assert {item["event"] for item in mine.json()} == {event.seq for event in events_of(own)}
    assert "their secret" not in mine.content.decode()


def test_a_colleague_the_request_is_shared_with_lists_its_events(client: Client) -> None:
    officer = make_officer()
    request = make_legal_request(officer=officer)
    colleague = make_officer(agency=officer.agency)
    request_share(request=request, officer=officer, colleague=colleague)

    response = client.get(
        f"/api/v1/submissions/{request.reference}/audit-events", **bearer(colleague)
    )

    assert response.status_code == 200
    assert [item["event"] for item in response.json()] == [e.seq for e in events_of(request)]


def test_the_list_needs_an_officers_token(client: Client) -> None:
    request = make_legal_request(officer=make_officer())
    response = client.get(f"/api/v1/submissions/{request.reference}/audit-events")
    assert response.status_code in (401, 403)
    assert "legal_request" not in response.content.decode()
