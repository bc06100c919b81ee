"""Properties of intake's signature and attachment checks, tried by hypothesis.

The signature is over the RFC 8785 bytes of the payload, so how a client writes the
JSON (key order, whitespace, string escapes) must not matter, and any change to what was
signed, to an attachment or to the signature must be refused with the code of the first
check that catches it, and leave nothing behind but the rejection log entry.

Each example runs in a transaction that is rolled back, so every example starts from the
same database: the officer, key and token made by the fixtures, and nothing else.
"""

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import rfc8785
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from portal.models import AuditEvent
from portal.problems import Problem
from requests_app.intake.parse import envelope_parse
from requests_app.models import Attachment, IntakeRejection, LegalRequest
from tests.factories import make_api_token, make_officer
from tests.requests_app.signing import (
    Signer,
    Submission,
    enrol_signing_key,
    post_envelope,
    submission,
)

pytestmark = pytest.mark.django_db

# Modest example counts keep the suite fast; every example is a full HTTP submission.
examples = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that exercises JSON escapes: accents, a dash, an astral character (a surrogate
# pair when escaped), a slash, a quote and a backslash.
AUTHORITY = 'Richterin Ä. Müller-Øst – Amtsgericht "Mitte" / Abt. 7 \\ 😀'
WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)
# A change to one byte: an XOR with a non-zero mask, as often inside ASCII as outside it.
ANY_FLIP = st.one_of(st.integers(1, 127), st.integers(128, 255))
REFUSAL_STATUS = {"malformed": 400, "bad_signature": 401, "attachment_mismatch": 422}


@pytest.fixture
def officer():
    return make_officer()


@pytest.fixture
def signer(officer) -> Signer:
    return enrol_signing_key(officer)


@pytest.fixture
def token(officer) -> str:
    return make_api_token(officer=officer)[1]


@pytest.fixture(autouse=True)
def intake_settings(settings, tmp_path) -> Iterator[None]:
    """No rate limit in the way of many examples; attachments stored under ``tmp_path``."""
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


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run one example in a transaction that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def signed_submission(**request_overrides: Any) -> Submission:
    sub = submission(**request_overrides)
    sub.payload["request"]["issuing_authority"]["name"] = AUTHORITY
    return sub


def assert_refused_and_nothing_stored(response, code: str, storage) -> None:
    assert response.status_code == REFUSAL_STATUS[code], response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert list(IntakeRejection.objects.values_list("code", flat=True)) == [code]
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()
    assert not storage.exists() or not any(storage.rglob("*"))


# --- Any way of writing the same JSON -----------------------------------------------------


def json_string(text: str, style: str) -> str:
    """Write a JSON string literal in one of several equivalent ways."""
    if style == "utf8":
        return json.dumps(text, ensure_ascii=False)
    if style == "ascii":
        return json.dumps(text, ensure_ascii=True).replace("/", "\\/")
    # Every character escaped; astral characters as surrogate pairs.
    units = text.encode("utf-16-be")
    pairs = (units[i : i + 2] for i in range(0, len(units), 2))
    return '"' + "".join(f"\\u{pair.hex()}" for pair in pairs) + '"'


def any_json_text(draw: Any, value: Any) -> str:
    """Serialise ``value`` with drawn key orders, whitespace and string escapes."""

    def ws() -> str:
        return draw(WHITESPACE)

    if isinstance(value, dict):
        keys = draw(st.permutations(list(value)))
        members = [
            ws() + any_json_text(draw, key) + ws() + ":" + ws() + any_json_text(draw, value[key])
            for key in keys
        ]
        return "{" + ws() + ",".join(m + ws() for m in members) + "}"
    if isinstance(value, list):
        return "[" + ws() + ",".join(any_json_text(draw, v) + ws() for v in value) + "]"
    if isinstance(value, str):
        return json_string(value, draw(st.sampled_from(["utf8", "ascii", "escaped"])))
    return json.dumps(value)


@examples
@given(data=st.data())
def test_any_key_order_whitespace_or_escaping_of_the_same_payload_verifies(
    client, signer, token, data
):
    with rolled_back():
        sub = signed_submission()
        envelope = sub.sign(signer)
        raw = any_json_text(data.draw, envelope).encode("utf-8")
        assert json.loads(raw) == envelope

        response = post_envelope(client, raw, sub.files, token)

        assert response.status_code == 201, response.content
        request = LegalRequest.objects.get(reference=response.json()["reference"])
        assert request.payload == sub.payload
        assert request.payload_sha256 == hashlib.sha256(rfc8785.dumps(sub.payload)).hexdigest()
        assert IntakeRejection.objects.count() == 0


# --- Any changed byte is refused ----------------------------------------------------------


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def envelope_around(payload_bytes: bytes, signature: dict[str, Any]) -> bytes:
    """The envelope carrying a changed payload: re-serialised if it is still JSON, else
    spliced in as it is (so that the portal sees exactly the changed bytes)."""
    try:
        text = payload_bytes.decode("utf-8")
        payload = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
        return json.dumps({"payload": payload, "signature": signature}, allow_nan=False).encode()
    except ValueError:  # not UTF-8, not JSON, a duplicate key, or a number JSON cannot hold
        tail = b', "signature": ' + json.dumps(signature).encode() + b"}"
        return b'{"payload": ' + payload_bytes + tail


def first_refusal(raw: bytes) -> str:
    """The code intake must answer with: step 1's if the bytes no longer parse or fit the
    schema, otherwise step 3's, since the signature covers every byte that was signed."""
    try:
        envelope_parse(raw)
    except Problem as problem:
        return problem.code
    return "bad_signature"


@examples
@given(data=st.data())
def test_any_changed_byte_of_the_signed_payload_is_refused_and_nothing_stored(
    client, signer, token, data, tmp_path
):
    with rolled_back():
        sub = signed_submission()
        envelope = sub.sign(signer)
        signed = bytearray(rfc8785.dumps(sub.payload))
        position = data.draw(st.integers(0, len(signed) - 1), label="position")
        signed[position] ^= data.draw(ANY_FLIP, label="xor")
        raw = envelope_around(bytes(signed), envelope["signature"])
        expected = first_refusal(raw)
        event(expected)
        assert expected in ("malformed", "bad_signature")

        response = post_envelope(client, raw, sub.files, token)

        assert_refused_and_nothing_stored(response, expected, tmp_path / "storage")


SIGNED_TEXT = [
    ("case_reference",),
    ("legal_basis",),
    ("issuing_authority", "name"),
    ("issuing_authority", "contact"),
    ("targets", 0, "value"),
]


@examples
@given(data=st.data(), path=st.sampled_from(SIGNED_TEXT))
def test_any_changed_character_of_a_signed_text_is_a_bad_signature(
    client, signer, token, data, path, tmp_path
):
    with rolled_back():
        sub = signed_submission()
        envelope = sub.sign(signer)
        holder: Any = envelope["payload"]["request"]
        for step in path[:-1]:
            holder = holder[step]
        text = holder[path[-1]]
        index = data.draw(st.integers(0, len(text) - 1), label="index")
        replacement = data.draw(
            st.characters(exclude_categories=["Cs", "Cc"]).filter(lambda c: c != text[index]),
            label="replacement",
        )
        holder[path[-1]] = text[:index] + replacement + text[index + 1 :]

        response = post_envelope(client, envelope, sub.files, token)

        assert_refused_and_nothing_stored(response, "bad_signature", tmp_path / "storage")


@examples
@given(data=st.data())
def test_any_changed_byte_of_an_attachment_is_refused_and_nothing_stored(
    client, signer, token, data, tmp_path
):
    with rolled_back():
        sub = signed_submission()
        name, document, media_type = sub.files[0]
        changed = bytearray(document)
        position = data.draw(st.integers(0, len(changed) - 1), label="position")
        changed[position] ^= data.draw(ANY_FLIP, label="xor")

        response = post_envelope(
            client, sub.sign(signer), [(name, bytes(changed), media_type)], token
        )

        assert_refused_and_nothing_stored(response, "attachment_mismatch", tmp_path / "storage")


@examples
@given(data=st.data())
def test_any_changed_byte_of_the_signature_is_a_bad_signature(
    client, signer, token, data, tmp_path
):
    with rolled_back():
        sub = signed_submission()
        envelope = sub.sign(signer)
        signature = bytearray(base64.b64decode(envelope["signature"]["value"]))
        position = data.draw(st.integers(0, len(signature) - 1), label="position")
        signature[position] ^= data.draw(ANY_FLIP, label="xor")
        envelope["signature"]["value"] = base64.b64encode(bytes(signature)).decode()

        response = post_envelope(client, envelope, sub.files, token)

        assert_refused_and_nothing_stored(response, "bad_signature", tmp_path / "storage")
