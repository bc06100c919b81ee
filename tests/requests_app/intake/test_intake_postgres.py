"""Concurrent submissions on PostgreSQL: one nonce makes one request, whoever wins the race.

Two threads, each with its own database connection and test client, submit at the same
moment (a barrier releases them together). In the "held" mode a second barrier stops
each submission right after step 4 (freshness: the cheap nonce look-up) until the other
has passed it too, so both reach the insert and only the database's unique constraint on
the nonce can decide; in the "free" mode they race as they come.

A byte-identical retry can meet its first attempt in three ways: both before the insert
(the "held" race), the first attempt committing while the retry is between its retry
look-up and its nonce look-up (made to happen below, step by step), or one after the
other (``test_intake_api``). Each has its own test, so none depends on luck.
"""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from portal.models import AuditEvent
from requests_app.intake import pipeline
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest
from tests.problems import assert_problem
from tests.requests_app.signing import post_envelope, submission

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres", "intake_settings"),
]

BARRIER_SECONDS = 20


def hold_after_the_nonce_check(monkeypatch) -> None:
    """Make both submissions pass the nonce look-up before either inserts."""
    both_checked = threading.Barrier(2)
    freshness_check = pipeline.freshness_check

    def freshness_check_then_wait(**kwargs: Any) -> None:
        freshness_check(**kwargs)
        both_checked.wait(timeout=BARRIER_SECONDS)

    monkeypatch.setattr(pipeline, "freshness_check", freshness_check_then_wait)


@pytest.fixture(params=["held", "free"])
def race_mode(request, monkeypatch) -> str:
    if request.param == "held":
        hold_after_the_nonce_check(monkeypatch)
    return request.param


def race(*submit: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; return their answers in order."""
    start = threading.Barrier(len(submit))
    answers: list[Any] = [None] * len(submit)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=BARRIER_SECONDS)
            answers[index] = submit[index]()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(submit))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * BARRIER_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a submission never finished"
    assert not errors, errors
    return answers


def submit(envelope: bytes, files: list[tuple[str, bytes, str]], token: str) -> Callable:
    from django.test import Client

    return lambda: post_envelope(Client(), envelope, files, token)


def test_two_concurrent_submissions_with_one_nonce_and_different_bodies_make_one_request(
    race_mode, signer, token
):
    first = submission(case_reference="PF-2026-0412")
    second = submission(case_reference="PF-2026-0999")
    second.payload["nonce"] = first.payload["nonce"]
    envelopes = [json.dumps(s.sign(signer)).encode() for s in (first, second)]

    answers = race(
        submit(envelopes[0], first.files, token), submit(envelopes[1], second.files, token)
    )

    assert sorted(a.status_code for a in answers) == [201, 409], [a.content for a in answers]
    won = next(a for a in answers if a.status_code == 201)
    lost = next(a for a in answers if a.status_code == 409)
    assert_problem(lost, status=409, code="replay")
    request = LegalRequest.objects.get()
    assert request.reference == won.json()["reference"]
    assert request.nonce == first.payload["nonce"]
    assert list(IntakeRejection.objects.values_list("code", flat=True)) == ["replay"]
    assert Attachment.objects.count() == 1
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1


def test_two_concurrent_byte_identical_retries_make_one_request_and_get_one_answer(
    signer, token, monkeypatch
):
    hold_after_the_nonce_check(monkeypatch)
    sub = submission()
    envelope = json.dumps(sub.sign(signer)).encode()

    answers = race(submit(envelope, sub.files, token), submit(envelope, sub.files, token))

    assert [a.status_code for a in answers] == [201, 201], [a.content for a in answers]
    assert answers[0].json() == answers[1].json()
    request = LegalRequest.objects.get()
    assert answers[0].json()["reference"] == request.reference
    assert IntakeRejection.objects.count() == 0
    assert Attachment.objects.count() == 1
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1


def test_a_retry_whose_first_attempt_commits_during_its_checks_gets_the_original_answer(
    signer, token, monkeypatch
):
    """The retry passes the retry look-up, then the first attempt commits, then the retry
    reaches the nonce look-up: it must still be answered as a retry, not as a replay."""
    sub = submission()
    envelope = json.dumps(sub.sign(signer)).encode()
    first: list[Any] = []
    signature_check = pipeline.ed25519_signature_check

    def first_attempt_commits_meanwhile(**kwargs: Any) -> None:
        signature_check(**kwargs)
        if not first:
            first.append(None)  # the first attempt itself passes straight through
            first[0] = race(submit(envelope, sub.files, token))[0]

    monkeypatch.setattr(pipeline, "ed25519_signature_check", first_attempt_commits_meanwhile)

    retry = submit(envelope, sub.files, token)()

    assert first[0].status_code == 201, first[0].content
    assert retry.status_code == 201, retry.content
    assert retry.json() == first[0].json()
    assert LegalRequest.objects.count() == 1
    assert IntakeRejection.objects.count() == 0
