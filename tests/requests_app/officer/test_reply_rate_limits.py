"""Clarification replies are rate-limited per officer and per address (PROTOCOL §4.5, §5.4).

An officer (or a stolen session or token) could otherwise flood the reviewers' thread, and
their mailboxes, with replies, and fill the storage with documents. Over a limit, every
way of replying (API text and signed, the page's form and its signed reply) answers
``429 rate_limited`` with ``Retry-After``, and nothing of the refused reply is stored: no
message, no document or file, no audit event, no change of state. Reading the thread is
never limited, and the page's preview reads the limits without counting. Every way of
replying checks the limits before it looks the request up (PROTOCOL §4.5, "The limits come
first"): tries at references the officer may not read are counted, answered 404 alike, and
store nothing.
"""

import json
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from requests_app.lifecycle.models import LegalRequest
from tests.factories import make_api_token, make_officer
from tests.requests_app.intake.test_web_channel import passkey_signature
from tests.requests_app.officer.test_signed_replies import (
    assert_problem,
    declared,
    post_reply,
    reply_payload,
    signed,
    state,
)
from tests.requests_app.officer.test_signed_replies_web import post_signed, preview_url
from tests.requests_app.officer_helpers import asked_of
from tests.requests_app.signing import enrol_signing_key

# officer, signer, token, passkey, session, page_2: tests/requests_app/officer/conftest.py.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]


def text_reply(client: Client, reference: str, token: str, body: str = "Here it is."):
    return client.post(
        f"/api/v1/submissions/{reference}/messages",
        {"body": body},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def assert_rate_limited(response) -> None:
    problem = assert_problem(response, "rate_limited", 429)
    wait = int(response["Retry-After"])
    assert 0 < wait <= 60
    assert problem["retry_after"] == wait


@pytest.fixture
def two_asked(officer) -> tuple[LegalRequest, LegalRequest]:
    """Two requests awaiting the officer's answer: one to spend the limit, one to refuse."""
    return asked_of(officer), asked_of(officer)


def one_reply_per_officer(settings) -> None:
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "reply_officer": "1/min"}


# --- The API -----------------------------------------------------------------------------------


def test_a_text_reply_over_the_officer_limit_is_refused_and_nothing_stored(
    client, settings, two_asked, token
) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    assert text_reply(client, spent.reference, token).status_code == 201
    before = state(refused)

    response = text_reply(client, refused.reference, token)

    assert_rate_limited(response)
    assert state(refused) == before
    assert refused.status == LegalRequest.Status.AWAITING_CLARIFICATION


def test_a_signed_reply_over_the_limit_stores_no_document(
    client, settings, two_asked, token, signer, page_2
) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    assert text_reply(client, spent.reference, token).status_code == 201
    before = state(refused)

    response = post_reply(
        client,
        refused.reference,
        signed(reply_payload(refused.reference, page_2), signer),
        page_2,
        token,
    )

    assert_rate_limited(response)
    assert state(refused) == before  # no message, no document row, no file, no audit event


def test_officers_behind_one_address_meet_the_address_limit(client, settings, officer, token):
    colleague = make_officer(agency=officer.agency)
    mine, theirs = asked_of(officer), asked_of(colleague)
    their_token = make_api_token(officer=colleague)[1]
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "reply_address": "1/min"}
    assert text_reply(client, mine.reference, token).status_code == 201
    before = state(theirs)

    response = text_reply(client, theirs.reference, their_token)

    assert_rate_limited(response)
    assert state(theirs) == before
    # From another address, the colleague's reply goes through.
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert text_reply(other, theirs.reference, their_token).status_code == 201


def test_reading_the_thread_is_never_limited(client, settings, two_asked, token) -> None:
    one_reply_per_officer(settings)
    spent, _ = two_asked
    assert text_reply(client, spent.reference, token).status_code == 201
    for _ in range(3):
        thread = client.get(
            f"/api/v1/submissions/{spent.reference}/messages",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert thread.status_code == 200


def test_replies_do_not_spend_the_submissions_budget(client, settings, officer, token) -> None:
    from tests.requests_app.signing import post_envelope, submission

    asked = asked_of(officer)
    signer = enrol_signing_key(officer)
    cache.clear()  # asked_of's submission counted; count from nothing
    settings.INTAKE_RATE_LIMITS = {
        **settings.INTAKE_RATE_LIMITS,
        "reply_officer": "1/min",
        "submission_officer": "1/min",
    }
    assert text_reply(client, asked.reference, token).status_code == 201
    assert_rate_limited(text_reply(client, asked.reference, token))

    sub = submission()
    assert post_envelope(Client(), sub.sign(signer), sub.files, token).status_code == 201


# --- The page ----------------------------------------------------------------------------------


def page_reply(session: Client, reference: str, body: str = "Here it is."):
    return session.post(f"/requests/mine/{reference}/messages/", {"body": body})


def test_the_page_form_over_the_limit_says_how_long_to_wait_and_sends_nothing(
    session, settings, two_asked
) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    assert page_reply(session, spent.reference).status_code == 302
    before = state(refused)

    response = page_reply(session, refused.reference, body="Sent too fast.")

    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 0 < wait <= 60
    page = response.content.decode()
    assert f"Wait {wait} seconds, then send again. Nothing was sent." in page
    assert "Sent too fast." in page  # the text is kept in the form, to send later
    assert state(refused) == before


def test_the_page_and_the_api_share_one_budget(client, session, settings, two_asked, token) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    assert text_reply(client, spent.reference, token).status_code == 201
    before = state(refused)

    assert page_reply(session, refused.reference).status_code == 429
    assert state(refused) == before


def preview(session: Client, reference: str, files) -> Any:
    return session.post(
        preview_url(reference), {"body": "Page 2.", "attachments": json.dumps(declared(files))}
    )


def test_a_signed_reply_from_the_page_over_the_limit_stores_nothing(
    session, settings, two_asked, passkey, page_2
) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    payload = preview(session, refused.reference, page_2).json()["payload"]
    assert page_reply(session, spent.reference).status_code == 302
    before = state(refused)

    response = post_signed(
        session,
        refused.reference,
        {"payload": payload, "signature": passkey_signature(passkey, payload)},
        page_2,
    )

    assert_rate_limited(response)
    assert state(refused) == before


def test_the_preview_reads_the_limit_without_counting(
    session, settings, two_asked, passkey, page_2
) -> None:
    one_reply_per_officer(settings)
    spent, refused = two_asked
    # Previews do not count: after two of them, the one reply the limit allows still passes.
    preview(session, refused.reference, page_2)
    payload = preview(session, spent.reference, page_2).json()["payload"]
    accepted = post_signed(
        session,
        spent.reference,
        {"payload": payload, "signature": passkey_signature(passkey, payload)},
        page_2,
    )
    assert accepted.status_code == 201, accepted.content

    # Once it is spent, the preview says so before the passkey is asked.
    assert_rate_limited(preview(session, refused.reference, page_2))


# --- The limits come before the lookup (PROTOCOL §4.5) -----------------------------------------
#
# An officer (or a stolen session or token) trying references through the reply endpoints:
# a reference that does not exist, another agency's request, a colleague's that was not
# shared. Each try is counted before the lookup, is answered 404 the same way, and stores
# nothing; once the tries have spent the limit, every reply is 429, the officer's own too.

UNKNOWN = "LR-2026-000000000000"


@pytest.fixture
def not_theirs(officer) -> tuple[LegalRequest, LegalRequest]:
    """Two requests ``officer`` may not read, both awaiting an answer: another agency's,
    and a colleague's that was not shared."""
    return asked_of(make_officer()), asked_of(make_officer(agency=officer.agency))


def everything(*requests: LegalRequest) -> list[tuple]:
    return [state(request) for request in requests]


def replies_allowed(settings, count: int) -> None:
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "reply_officer": f"{count}/min"}


def same_not_found(responses) -> None:
    """Each a 404 not_found, all alike: the answer does not tell a request that does not exist
    from one the caller may not read."""
    bodies = []
    for response in responses:
        problem = assert_problem(response, "not_found", 404)
        bodies.append({k: v for k, v in problem.items() if k != "instance"})
    assert all(body == bodies[0] for body in bodies)


def test_api_replies_to_references_the_officer_may_not_read_count_and_store_nothing(
    client, settings, asked, not_theirs, token, signer, page_2
) -> None:
    foreign, colleagues = not_theirs
    replies_allowed(settings, 3)
    before = everything(asked, foreign, colleagues)

    tries = [
        text_reply(client, UNKNOWN, token),
        text_reply(client, foreign.reference, token),
        post_reply(
            client,
            colleagues.reference,
            signed(reply_payload(colleagues.reference, page_2), signer),
            page_2,
            token,
        ),
    ]

    same_not_found(tries)
    # The three tries spent the limit: the next try, whatever it names, and the officer's
    # own reply to their own request are refused by the limit.
    for reference in (UNKNOWN, foreign.reference, asked.reference):
        assert_rate_limited(text_reply(client, reference, token))
    assert everything(asked, foreign, colleagues) == before


def test_page_replies_to_references_the_officer_may_not_read_count_and_store_nothing(
    session, settings, asked, not_theirs, passkey, page_2
) -> None:
    foreign, colleagues = not_theirs
    replies_allowed(settings, 3)
    payload = preview(session, asked.reference, page_2).json()["payload"]  # does not count
    before = everything(asked, foreign, colleagues)

    tries = [
        page_reply(session, UNKNOWN),
        page_reply(session, foreign.reference),
        post_signed(  # a payload signed for another request, sent to the colleague's
            session,
            colleagues.reference,
            {"payload": payload, "signature": passkey_signature(passkey, payload)},
            page_2,
        ),
    ]

    assert [response.status_code for response in tries] == [404, 404, 404]
    # Spent: a reference the officer may not read gets the wait alone, not the request.
    for reference in (UNKNOWN, foreign.reference):
        response = page_reply(session, reference, body="Probe.")
        assert response.status_code == 429
        wait = int(response["Retry-After"])
        page = response.content.decode()
        assert f"Wait {wait} seconds, then send again. Nothing was sent." in page
        assert "<h1>Too many messages</h1>" in page
        # Nothing of the request: not its case, not its thread (the reviewer's question).
        assert foreign.case_reference not in page
        assert "Please send page 2 of the order." not in page
    # Their own request's page says the same, and keeps the text to send later.
    own = page_reply(session, asked.reference, body="Sent after the probes.")
    assert own.status_code == 429
    assert "Sent after the probes." in own.content.decode()
    assert_rate_limited(
        post_signed(
            session,
            asked.reference,
            {"payload": payload, "signature": passkey_signature(passkey, payload)},
            page_2,
        )
    )
    assert everything(asked, foreign, colleagues) == before


def test_the_preview_answers_a_spent_limit_before_the_lookup_and_the_checks(
    session, settings, two_asked, not_theirs, page_2
) -> None:
    spent, own = two_asked
    foreign, _ = not_theirs
    replies_allowed(settings, 1)
    # Before the limit is spent, a preview of a reference the officer may not read is 404
    # and does not count.
    assert preview(session, UNKNOWN, page_2).status_code == 404
    assert preview(session, foreign.reference, page_2).status_code == 404
    assert page_reply(session, spent.reference).status_code == 302
    before = everything(own, foreign)

    for reference in (UNKNOWN, foreign.reference, own.reference):
        assert_rate_limited(preview(session, reference, page_2))
    # A reply with errors (no text, no documents) is told the wait first too.
    assert_rate_limited(session.post(preview_url(own.reference), {"body": "", "attachments": ""}))
    assert everything(own, foreign) == before
