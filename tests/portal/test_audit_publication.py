"""Tree heads published: an RFC 3161 time-stamp from a real (local, openssl) authority,
checked with rfc3161-client; witnesses by webhook and by mail; at most every interval."""

import base64
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from portal import crypto
from portal.audit import audit_append
from portal.models import AuditPublication, AuditTreeHead
from portal.sequencer import audit_sequence
from portal.tasks import audit_witness_webhook
from portal.tree_heads import head_document, head_timestamp_verify, publication_due
from tests.portal.tsa import Recorder, http_server, make_authority, openssl_reply

pytestmark = [pytest.mark.django_db, pytest.mark.needs_commands("openssl")]


def append(count: int) -> None:
    for n in range(count):
        audit_append(action="request.noted", target_type="test", target_id=str(n))


@pytest.fixture
def authority(tmp_path: Path) -> Path:
    folder = tmp_path / "tsa"
    make_authority(folder)
    return folder


@pytest.fixture
def tsa(settings: Any, authority: Path) -> Any:
    """The portal set up with the local authority; yields what it received."""
    recorder = Recorder(answer=lambda query: openssl_reply(authority, query))
    with http_server(recorder) as url:
        settings.AUDIT_TSA_URL = url
        settings.AUDIT_TSA_CA_FILE = str(authority / "ca.crt")
        settings.AUDIT_PUBLISH_INTERVAL_SECONDS = 0
        yield recorder


def test_a_head_is_time_stamped_by_the_authority_and_the_token_verifies(
    tsa: Recorder, authority: Path, django_capture_on_commit_callbacks: Any
) -> None:
    append(3)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        result = audit_sequence()

    assert result.published is not None
    assert result.published.tree_size == 3
    assert tsa.content_types == ["application/timestamp-query"]
    document = head_document(AuditTreeHead.objects.get(tree_size=3))
    assert document["rfc3161"]["tsa_url"].startswith("http://127.0.0.1:")
    # the library checks chain, key usage and imprint: SHA-256 of the head's signature
    stamped = head_timestamp_verify(document)
    assert before - timedelta(seconds=5) <= stamped <= timezone.now() + timedelta(seconds=5)
    # and so does openssl, for someone who checks by hand
    folder = authority
    (folder / "head.sig").write_bytes(base64.b64decode(document["signature"]))
    (folder / "head.tsr").write_bytes(base64.b64decode(document["rfc3161"]["response"]))
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-data", "head.sig", "-in", "head.tsr", "-CAfile", "ca.crt"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Verification: OK" in checked.stdout


def test_a_token_over_another_message_is_refused(
    settings: Any, authority: Path, tsa: Recorder
) -> None:
    # an authority (or someone in between) answering with a valid token for other data
    from tests.portal.tsa import openssl_reply as reply

    other, _ = crypto.rfc3161_request(b"something else")
    tsa.answer = lambda query: reply(authority, other)
    append(2)

    result = audit_sequence()

    # the head is signed and kept, but not published: the next run tries again
    assert result.head is not None
    assert result.publish_error.startswith("TimestampInvalid")
    assert AuditTreeHead.objects.filter(tree_size=2).exists()
    assert not AuditPublication.objects.exists()
    tsa.answer = lambda query: reply(authority, query)
    assert audit_sequence().published is not None


def test_a_token_from_an_authority_outside_the_trusted_roots_is_refused(
    settings: Any, tmp_path: Path, tsa: Recorder
) -> None:
    impostor = tmp_path / "impostor"
    make_authority(impostor, name="Impostor TSA")
    tsa.answer = lambda query: openssl_reply(impostor, query)
    append(2)

    assert audit_sequence().publish_error.startswith("TimestampInvalid")
    assert not AuditPublication.objects.exists()


def test_garbage_from_the_authority_is_refused(tsa: Recorder) -> None:
    tsa.answer = b"\x30\x03\x02\x01\x02"
    append(1)
    assert audit_sequence().publish_error.startswith("TimestampInvalid")
    assert not AuditPublication.objects.exists()


def test_heads_are_published_at_most_once_an_interval_and_the_newest_then(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.AUDIT_PUBLISH_INTERVAL_SECONDS = 300
    append(2)
    assert audit_sequence().published is not None
    append(2)
    assert audit_sequence().published is None  # a head of 4, signed, not sent out
    append(1)
    audit_sequence()
    later = timezone.now() + timedelta(seconds=301)
    due = publication_due(later)
    assert due is not None
    assert due.tree_size == 5


def test_witnesses_receive_the_signed_head_by_webhook_and_by_mail(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recorder = Recorder(answer=b"")
    with http_server(recorder) as url:
        settings.AUDIT_WITNESS_WEBHOOKS = [url]
        settings.AUDIT_WITNESS_EMAILS = ["witness@example.org", "archive@example.net"]
        append(3)
        with django_capture_on_commit_callbacks(execute=True):
            audit_sequence()

    head = head_document(AuditTreeHead.objects.get(tree_size=3))
    assert [json.loads(body) for body in recorder.bodies] == [head]
    assert recorder.content_types == ["application/json"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["witness@example.org", "archive@example.net"]
    assert json.dumps(head, indent=2) in message.body


def test_a_failing_witness_raises_so_that_the_task_is_retried(settings: Any) -> None:
    recorder = Recorder(status=503)
    with http_server(recorder) as url:
        settings.AUDIT_WITNESS_WEBHOOKS = [url]
        append(1)
        audit_sequence(publish=False)
        with pytest.raises(OSError, match="503"):
            audit_witness_webhook.apply(args=[url, 1], throw=True)
    assert audit_witness_webhook.autoretry_for == (Exception,)
    assert audit_witness_webhook.max_retries
    assert audit_witness_webhook.max_retries >= 5


def test_a_task_naming_an_address_that_is_no_witness_sends_nothing(settings: Any) -> None:
    recorder = Recorder()
    with http_server(recorder) as url:
        settings.AUDIT_WITNESS_WEBHOOKS = ["https://witness.example.org/heads"]
        append(1)
        audit_sequence(publish=False)
        audit_witness_webhook.apply(args=[url, 1], throw=True)
    assert recorder.bodies == []


def test_an_authority_that_does_not_answer_leaves_the_head_unpublished(
    settings: Any, authority: Path
) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    settings.AUDIT_TSA_URL = "http://127.0.0.1:9/"  # discard port: nothing listens
    settings.AUDIT_TSA_CA_FILE = str(authority / "ca.crt")
    settings.AUDIT_PUBLISH_INTERVAL_SECONDS = 0
    append(2)
    with pytest.raises(CommandError, match="was not published") as failed:
        call_command("audit_sequence", stdout=StringIO())
    assert failed.value.returncode == 1
    assert AuditTreeHead.objects.filter(tree_size=2).exists()
    assert not AuditPublication.objects.exists()
