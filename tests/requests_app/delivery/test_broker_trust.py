"""A compromised broker (Redis) learns ids, never data, and cannot make a worker run code.

The broker sees every task message. Messages carry the id of a row and nothing else, so
reading them reveals no request, no target and no record; the worker looks everything up
in the database and seals only to the recipients recorded there. And the worker accepts
JSON only: a pickled message, the classic way from a broker to code execution in a
Python worker, is refused before it is decoded.
"""

import pickle

import pytest
from kombu.exceptions import ContentDisallowed
from kombu.serialization import loads

from accounts.models import Role
from portal.celery import app
from requests_app.delivery import tasks
from requests_app.delivery.models import Disclosure, SealedResponse
from requests_app.review import services
from tests.factories import make_user
from tests.requests_app.delivery_helpers import age_identity_for, approved_decision, tmp_storage

pytestmark = pytest.mark.django_db


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, *args, **kwargs) -> None:
        self.calls.append((args, kwargs))


def test_the_sealing_message_carries_the_disclosure_id_and_nothing_else(
    client, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    tmp_storage(settings, tmp_path)
    decision, officer, _ = approved_decision(client)
    recorder = Recorder()
    monkeypatch.setattr(tasks.disclosure_seal, "delay", recorder)

    with django_capture_on_commit_callbacks(execute=True):
        disclosure = services.disclosure_create(
            decision=decision, reviewer=make_user(role=Role.REVIEWER)
        )

    # What the broker carries: one integer; no reference, no target, no record.
    assert recorder.calls == [((disclosure.pk,), {})]


def test_a_worker_refuses_a_pickled_message_before_decoding_it():
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_serializer == "json"

    class Exploit:
        def __reduce__(self):
            return (pytest.fail, ("a pickled message was decoded",))

    payload = pickle.dumps(Exploit())
    with pytest.raises(ContentDisallowed):
        loads(
            payload,
            content_type="application/x-python-serialize",
            content_encoding="binary",
            accept=app.conf.accept_content,
        )


def test_a_forged_message_for_a_sealed_disclosure_seals_nothing_more(client, settings, tmp_path):
    tmp_storage(settings, tmp_path)
    decision, officer, _ = approved_decision(client)
    age_identity_for(officer)
    disclosure = Disclosure.objects.create(
        request=decision.request, decision=decision, created_by=decision.proposed_by
    )
    first = tasks.disclosure_seal(disclosure.pk)
    files = sorted(p.name for p in (tmp_path / "sealed").iterdir())

    # The broker replays the message (or forges it) as often as it likes.
    for _ in range(3):
        assert tasks.disclosure_seal(disclosure.pk) == first

    assert SealedResponse.objects.count() == 1
    assert sorted(p.name for p in (tmp_path / "sealed").iterdir()) == files
