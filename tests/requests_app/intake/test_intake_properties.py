"""Properties of intake, tried by hypothesis: signature, attachments, and the payload.

The signature is over the RFC 8785 bytes of the payload, so how a client writes the
JSON (key order, whitespace, string escapes) must not matter, and any change to what was
signed, to an attachment or to the signature must be refused with the code of the first
check that catches it, and leave nothing behind but the rejection log entry.

A validly signed payload is judged on its content alone: in the shape of PROTOCOL §2 it
is stored exactly once (a retry of the same bytes included) under the policy rule that
allows it, or refused by that policy; in any other shape it is ``malformed``. Either way
nothing is half-stored.

Each example runs in a transaction that is rolled back, so every example starts from the
same database: the officer, key and token made by the fixtures, and nothing else.
"""

import base64
import hashlib
import json
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from django.conf import settings as settings_module
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from accounts.models import Agency
from portal.models import AuditEvent
from portal.problems import Problem
from requests_app.intake.models import IntakeRejection
from requests_app.intake.parse import envelope_parse, schema_errors
from requests_app.intake.schema import Envelope, StrictSerializer
from requests_app.lifecycle.models import (
    Attachment,
    DataCategory,
    LegalRequest,
    Offence,
    RequestKind,
    TargetType,
)
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import policy_rule_for
from tests.problems import assert_problem
from tests.requests_app.intake.refusals import assert_only_the_rejection_logged
from tests.requests_app.signing import (
    Signer,
    Submission,
    now_rfc3339,
    pdf_bytes,
    post_envelope,
    submission,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake_settings")]

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
# Each refusal code and its status (PROTOCOL §5).
PROTOCOL_STATUS = {
    "malformed": 400,
    "wrong_audience": 400,
    "stale": 400,
    "unauthenticated": 401,
    "unknown_key": 401,
    "bad_signature": 401,
    "key_not_active": 403,
    "officer_not_active": 403,
    "agency_not_verified": 403,
    "replay": 409,
    "too_large": 413,
    "attachment_mismatch": 422,
    "policy_violation": 422,
    "rate_limited": 429,
}


@contextmanager
def rolled_back(storage: Path | None = None) -> Iterator[None]:
    """Run one example in a transaction that is always rolled back, and remove the files
    it stored under ``storage`` (an accepted example stores its attachments)."""
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        if storage is not None:
            shutil.rmtree(storage, ignore_errors=True)


def signed_submission(**request_overrides: Any) -> Submission:
    sub = submission(**request_overrides)
    sub.payload["request"]["issuing_authority"]["name"] = AUTHORITY
    return sub


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

        assert_problem(response, status=PROTOCOL_STATUS[expected], code=expected)
        assert_only_the_rejection_logged(expected, channel="api", storage=tmp_path / "storage")


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

        assert_problem(response, status=PROTOCOL_STATUS["bad_signature"], code="bad_signature")
        assert_only_the_rejection_logged(
            "bad_signature", channel="api", storage=tmp_path / "storage"
        )


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

        assert_problem(
            response, status=PROTOCOL_STATUS["attachment_mismatch"], code="attachment_mismatch"
        )
        assert_only_the_rejection_logged(
            "attachment_mismatch", channel="api", storage=tmp_path / "storage"
        )


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

        assert_problem(response, status=PROTOCOL_STATUS["bad_signature"], code="bad_signature")
        assert_only_the_rejection_logged(
            "bad_signature", channel="api", storage=tmp_path / "storage"
        )


# --- Any payload, validly signed ------------------------------------------------------------
#
# The envelopes below carry a good signature over whatever payload was drawn, so that
# intake's judgement of the content is all that decides. A payload in the shape of
# PROTOCOL §2 is accepted, or refused by the jurisdiction policy; anything else is
# `malformed`. Accepted or not, the outcome is all or nothing.

POLICY_RULES = {
    "kind_not_allowed",
    "category_not_disclosable",
    "document_required",
    "period_required",
    "period_too_long",
    "period_in_future",
    "non_disclosure_expired",
    "non_disclosure_too_long",
}
COUNTRIES = ["DE", "FR", "US", "BR", "IN"]
ROLES = ["judge", "prosecutor", "police", "court"]
# Printable text of any script (no control characters, no lone surrogates).
LETTERS = st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"])


def protocol_text(limit: int) -> st.SearchStrategy[str]:
    """Text the protocol takes: 1 to ``limit`` characters, not starting or ending in space."""
    short = st.text(LETTERS, min_size=1, max_size=min(limit, 24))
    longest = st.text(LETTERS, min_size=limit, max_size=limit)
    return st.one_of(short, longest).filter(lambda text: text == text.strip() and text != "")


def days(n: int) -> timedelta:
    return timedelta(days=n)


# Valid numbers in E.164 (PROTOCOL §2.2 "Target values"), of the demo agencies' countries.
PHONES = ["+4930123456", "+4915112345678", "+5511987650001", "+33612340003", "+12025550105"]
ASCII = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20)


@st.composite
def target_of_its_type(draw: Any, period: dict[str, str] | None) -> dict[str, Any]:
    """A target whose value is written as its type requires (an IP address with a window)."""
    kind = draw(st.sampled_from(TargetType.values))
    value: str = {
        "phone": lambda: draw(st.sampled_from(PHONES)),
        "email": lambda: f"{draw(ASCII)}@{draw(ASCII)}.example",
        "ip_address": lambda: str(draw(st.ip_addresses())),
        "url": lambda: f"https://platform.example/u/{draw(ASCII)}",
    }.get(kind, lambda: draw(protocol_text(200)))()
    target: dict[str, Any] = {"type": kind, "value": value}
    if kind == "ip_address":
        first = date.fromisoformat(period["from"]) if period else date(2026, 1, 1)
        last = date.fromisoformat(period["to"]) if period else date(2026, 12, 31)
        day = first + days(draw(st.integers(0, (last - first).days)))
        start = draw(st.integers(0, 86_399))
        end = draw(st.integers(start, 86_399))
        moment = "{}T{:02}:{:02}:{:02}Z".format
        target["window"] = {
            "from": moment(day, start // 3600, start // 60 % 60, start % 60),
            "to": moment(day, end // 3600, end // 60 % 60, end % 60),
        }
    return target


@st.composite
def request_bodies(draw: Any, today: date) -> dict[str, Any]:
    """A ``request`` object in the shape of PROTOCOL §2 (the policy may still refuse it)."""
    kind = draw(st.sampled_from(RequestKind.values))
    period = None
    if draw(st.integers(0, 9)) > 0:  # mostly bounded, as the policy wants
        start = today - days(draw(st.integers(-3, 800)))
        end = start + days(draw(st.integers(0, 800)))
        period = {"from": start.isoformat(), "to": end.isoformat()}
    body: dict[str, Any] = {
        "kind": kind,
        "case_reference": draw(protocol_text(120)),
        "legal_basis": draw(protocol_text(500)),
        "issuing_authority": {
            "name": draw(protocol_text(200)),
            "role": draw(st.sampled_from(ROLES)),
            "contact": draw(protocol_text(200)),
        },
        "offence": draw(st.sampled_from(Offence.values)),
        "targets": draw(st.lists(target_of_its_type(period), min_size=1, max_size=3)),
        "data_categories": draw(
            st.lists(st.sampled_from(DataCategory.values), min_size=1, unique=True)
        ),
    }
    if period is not None:
        body["period"] = period
    if kind == RequestKind.EMERGENCY:
        body["emergency"] = {"justification": draw(protocol_text(4000))}
    if draw(st.booleans()):
        until = today + days(draw(st.integers(-3, 3 * 366 + 5)))
        body["non_disclosure"] = {"until": until.isoformat(), "basis": draw(protocol_text(500))}
    return body


def payload_around(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "portal": settings_module.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(24),
        "signed_at": now_rfc3339(),
        "request": body,
    }


# Where each kind of schema error can be planted, by path from the payload.
TEXT_LIMITS = {
    ("request", "case_reference"): 120,
    ("request", "legal_basis"): 500,
    ("request", "issuing_authority", "name"): 200,
    ("request", "issuing_authority", "contact"): 200,
    ("request", "targets", 0, "value"): 200,
}
CHOICES = {
    ("request", "kind"): RequestKind.values,
    ("request", "offence"): Offence.values,
    ("request", "issuing_authority", "role"): ROLES,
    ("request", "targets", 0, "type"): TargetType.values,
    ("request", "data_categories", 0): DataCategory.values,
}
REQUIRED = [
    ("portal",),
    ("nonce",),
    ("signed_at",),
    ("request",),
    ("request", "kind"),
    ("request", "case_reference"),
    ("request", "legal_basis"),
    ("request", "issuing_authority"),
    ("request", "issuing_authority", "name"),
    ("request", "issuing_authority", "role"),
    ("request", "issuing_authority", "contact"),
    ("request", "offence"),
    ("request", "targets"),
    ("request", "targets", 0, "type"),
    ("request", "targets", 0, "value"),
    ("request", "data_categories"),
]
OBJECTS = [(), ("request",), ("request", "issuing_authority"), ("request", "targets", 0)]
# A value of another JSON type than any field of the payload expects at that place
# (integers within the range RFC 8785 can sign).
NOT_TEXT = st.one_of(
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(-1e15, 1e15),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=2),
    st.fixed_dictionaries({"x": st.integers(0, 9)}),
)
BAD_DATES = ["2026-1-01", "2026-01-1", "20260101", "2026/01/01", "2026-02-30", "2026-01-01T00:00"]
BAD_SIGNED_AT = [
    "2026-11-22T10:00Z",  # no seconds
    "20261122T100000Z",  # the basic format
    "2026-W47-7T10:00:00Z",  # a week date
    "2026-11-22 10:00:00Z",  # no T
    "2026-11-22T10:00:00+00:00",  # not in Z
]


def holder_of(payload: dict[str, Any], path: tuple) -> tuple[Any, Any]:
    holder: Any = payload
    for step in path[:-1]:
        holder = holder[step]
    return holder, path[-1]


SCHEMA_ERRORS = [
    "unknown field",
    "missing field",
    "another JSON type",
    "text too long",
    "blank text",
    "NUL in text",
    "not a choice",
    "a category twice",
    "no targets or categories",
    "too many targets",
    "emergency mismatch",
    "period ends before it starts",
    "date not YYYY-MM-DD",
    "signed_at not RFC 3339",
    "nonce too short",
    "nonce with whitespace around it",
    "nonce not base64url",
    "size not an integer",
]


@st.composite
def schema_error(draw: Any, payload: dict[str, Any], choice: str) -> None:
    """Change ``payload`` in place so that it no longer fits PROTOCOL §2, as ``choice`` says."""
    request = payload["request"]
    if choice == "unknown field":
        holder, _ = holder_of(payload, (*draw(st.sampled_from(OBJECTS)), None))
        name = draw(st.text(LETTERS, min_size=1, max_size=12).filter(lambda n: n not in holder))
        holder[name] = draw(st.one_of(st.text(max_size=5), st.integers(-9, 9)))
    elif choice == "missing field":
        holder, key = holder_of(payload, draw(st.sampled_from(REQUIRED)))
        del holder[key]
    elif choice == "another JSON type":
        paths = [*TEXT_LIMITS, *CHOICES, *REQUIRED]
        holder, key = holder_of(payload, draw(st.sampled_from(paths)))
        holder[key] = draw(NOT_TEXT)
    elif choice == "text too long":
        path, limit = draw(st.sampled_from(sorted(TEXT_LIMITS.items())))
        holder, key = holder_of(payload, path)
        extra = draw(st.integers(1, 50))
        holder[key] = "x" * (limit + extra)
    elif choice == "blank text":
        holder, key = holder_of(payload, draw(st.sampled_from(sorted(TEXT_LIMITS))))
        holder[key] = draw(st.text(" \t\n\u00a0\u3000", max_size=4))
    elif choice == "NUL in text":
        holder, key = holder_of(payload, draw(st.sampled_from(sorted(TEXT_LIMITS))))
        position = draw(st.integers(0, len(holder[key])))
        holder[key] = holder[key][:position] + "\x00" + holder[key][position:]
    elif choice == "not a choice":
        path, values = draw(st.sampled_from(sorted(CHOICES.items())))
        holder, key = holder_of(payload, path)
        holder[key] = draw(st.text(LETTERS, max_size=20).filter(lambda v: v not in values))
    elif choice == "a category twice":
        request["data_categories"].append(request["data_categories"][0])
    elif choice == "no targets or categories":
        request[draw(st.sampled_from(["targets", "data_categories"]))] = []
    elif choice == "too many targets":
        request["targets"] = [{"type": "username", "value": f"t{n}"} for n in range(51)]
    elif choice == "emergency mismatch":
        if request["kind"] == RequestKind.EMERGENCY:
            del request["emergency"]
        else:
            request["emergency"] = {"justification": "A life is at risk."}
    elif choice == "period ends before it starts":
        start = date(2026, 1, 1) + days(draw(st.integers(1, 300)))
        end = start - days(draw(st.integers(1, 300)))
        request["period"] = {"from": start.isoformat(), "to": end.isoformat()}
    elif choice == "date not YYYY-MM-DD":
        request["period"] = {"from": "2026-01-01", "to": "2026-03-31"}
        request["period"][draw(st.sampled_from(["from", "to"]))] = draw(st.sampled_from(BAD_DATES))
    elif choice == "signed_at not RFC 3339":
        payload["signed_at"] = draw(st.sampled_from(BAD_SIGNED_AT))
    elif choice == "nonce too short":
        payload["nonce"] = payload["nonce"][: draw(st.integers(0, 21))]
    elif choice == "nonce with whitespace around it":
        space = draw(st.text(" \t\n", min_size=1, max_size=2))
        nonce = payload["nonce"]
        payload["nonce"] = draw(st.sampled_from([space + nonce, nonce + space]))
    elif choice == "nonce not base64url":
        position = draw(st.integers(0, len(payload["nonce"])))
        odd = draw(st.sampled_from("+/=.~é"))
        payload["nonce"] = payload["nonce"][:position] + odd + payload["nonce"][position:]
    elif choice == "size not an integer":
        request["attachments"] = [
            {
                "filename": "order.pdf",
                "media_type": "application/pdf",
                "sha256": "0" * 64,
                "size": draw(st.sampled_from(["12", 12.0, "12.0", True, -1, 0])),
            }
        ]
    else:
        raise AssertionError(f"no such schema error: {choice}")


def rule_terms() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "allowed": st.booleans(),
            "disclosable_categories": st.lists(
                st.sampled_from(DataCategory.values), min_size=1, unique=True
            ),
            "document_required": st.booleans(),
            "deadline_hours": st.integers(1, 24 * 366),
            "max_period_days": st.integers(1, 3653),
        }
    )


def post_signed(client, signer: Signer, token: str, payload: dict[str, Any], files):
    raw = json.dumps(Submission(payload, files).sign(signer)).encode("utf-8")
    return raw, post_envelope(client, raw, files, token)


def assert_accepted_exactly_once(client, token, raw, files, response, payload, country, today):
    """The request is stored once, as signed, under the rule that allowed it."""
    assert response.status_code == 201, response.content
    answer = response.json()
    stored = LegalRequest.objects.get()
    assert stored.reference == answer["reference"]
    assert stored.payload == payload
    assert stored.payload_sha256 == hashlib.sha256(rfc8785.dumps(payload)).hexdigest()
    body = payload["request"]
    assert [(t.type, t.value) for t in stored.targets.all()] == [
        (t["type"], t["value"]) for t in body["targets"]
    ]
    assert Attachment.objects.count() == len(files)
    assert IntakeRejection.objects.count() == 0
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1

    rule = policy_rule_for(country=country, kind=body["kind"])
    assert rule is not None
    assert rule.allowed
    assert set(body["data_categories"]) <= set(rule.disclosable_categories)
    assert files or not rule.document_required
    period = body["period"]
    start, end = date.fromisoformat(period["from"]), date.fromisoformat(period["to"])
    assert start <= today
    assert (end - start).days + 1 <= rule.max_period_days
    assert stored.due_at - stored.received_at == timedelta(hours=rule.deadline_hours)

    retry = post_envelope(client, raw, files, token)  # the client did not see the answer
    assert (retry.status_code, retry.json()) == (201, answer)
    assert LegalRequest.objects.count() == 1


def assert_refused_with_a_protocol_code(response, storage) -> dict[str, Any]:
    """A problem whose code and status are PROTOCOL §5's, logged once, and nothing else."""
    assert response["Content-Type"] == "application/problem+json", response.content
    code = response.json()["code"]
    assert PROTOCOL_STATUS.get(code) == response.status_code, response.json()
    problem = assert_problem(response, status=PROTOCOL_STATUS[code], code=code)
    assert_only_the_rejection_logged(code, channel="api", storage=storage)
    return problem


@settings(examples, max_examples=60)
@given(data=st.data(), country=st.sampled_from(COUNTRIES), attach=st.booleans())
def test_a_signed_payload_in_the_protocols_shape_is_stored_once_or_refused_by_policy(
    client, officer, signer, token, data, country, attach, tmp_path
):
    with rolled_back(tmp_path / "storage"):
        Agency.objects.filter(pk=officer.agency_id).update(country=country)
        if data.draw(st.booleans(), label="country has its own rule"):
            kind = data.draw(st.sampled_from(RequestKind.values), label="kind of the rule")
            terms = data.draw(rule_terms(), label="terms")
            PolicyRule.objects.update_or_create(country=country, kind=kind, defaults=terms)
        today = timezone.now().date()
        payload = payload_around(data.draw(request_bodies(today), label="request"))
        files = []
        if attach:
            document = pdf_bytes(secrets.token_hex(4))
            files = [("order.pdf", document, "application/pdf")]
            payload["request"]["attachments"] = [
                {
                    "filename": "order.pdf",
                    "media_type": "application/pdf",
                    "sha256": hashlib.sha256(document).hexdigest(),
                    "size": len(document),
                }
            ]

        raw, response = post_signed(client, signer, token, payload, files)

        if response.status_code == 201:
            event("accepted")
            assert_accepted_exactly_once(
                client, token, raw, files, response, payload, country, today
            )
        else:
            problem = assert_refused_with_a_protocol_code(response, tmp_path / "storage")
            assert problem["code"] == "policy_violation", problem
            assert problem["rule"] in POLICY_RULES
            event(problem["rule"])


@pytest.mark.parametrize("how", SCHEMA_ERRORS)
@settings(examples, max_examples=8)
@given(data=st.data())
def test_a_signed_payload_outside_the_protocols_shape_is_malformed_and_nothing_stored(
    client, signer, token, data, tmp_path, how
):
    with rolled_back():
        today = timezone.now().date()
        payload = payload_around(data.draw(request_bodies(today), label="request"))
        data.draw(schema_error(payload, how), label="schema error")

        _, response = post_signed(client, signer, token, payload, [])

        problem = assert_refused_with_a_protocol_code(response, tmp_path / "storage")
        assert problem["code"] == "malformed", (how, problem)
        assert problem["errors"], problem


# --- The schema's own loop over its fields is DRF's -----------------------------------------

SIGNATURES = [
    {"alg": "ed25519", "key_id": "k-1", "value": "c2lnbmF0dXJl"},
    {"alg": "webauthn", "key_id": "k-1", "value": "c2ln", "authenticator_data": "YQ"},
    {"alg": "ed25519", "key_id": "k-1", "value": "c2ln", "client_data_json": "e30"},
    {"alg": "rsa", "key_id": "", "value": 7},
    {"alg": "ed25519", "key_id": "k-1", "value": "c2ln", "extra": True},
    "not an object",
]


def drf_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every strict serializer's fields through DRF's own ``to_internal_value`` loop
    and ``_read_only_defaults`` instead of the plan's."""
    monkeypatch.setattr(
        StrictSerializer,
        "_fields_run",
        lambda self, data, plan: serializers.Serializer.to_internal_value(self, data),
    )
    monkeypatch.setattr(
        StrictSerializer, "_read_only_defaults", serializers.Serializer._read_only_defaults
    )


@settings(examples, max_examples=150)
@given(
    data=st.data(),
    how=st.sampled_from([None, *SCHEMA_ERRORS]),
    signature=st.sampled_from(SIGNATURES),
)
def test_the_schema_answers_every_document_as_drfs_own_loop_does(data, how, signature):
    # The plan (schema.StrictSerializer) only saves DRF's look-ups: any document, in the
    # protocol's shape or not, must get the same typed values or the same errors, with
    # the same codes, in the same order.
    today = timezone.now().date()
    payload = payload_around(data.draw(request_bodies(today), label="request"))
    if how is not None:
        data.draw(schema_error(payload, how), label="schema error")
    document = {"payload": payload, "signature": signature}

    planned = schema_errors(Envelope, document)
    with pytest.MonkeyPatch.context() as patch:
        drf_own_loop(patch)
        drfs = schema_errors(Envelope, document)

    assert planned == drfs
    assert json.dumps(planned, default=str) == json.dumps(drfs, default=str)  # the order too
    assert [getattr(e, "code", None) for e in _error_leaves(planned[1])] == [
        getattr(e, "code", None) for e in _error_leaves(drfs[1])
    ]
    if how is None and signature is SIGNATURES[0]:
        assert planned[1] is None, planned[1]  # the shape of PROTOCOL §2 passes


def _error_leaves(detail: Any) -> list[Any]:
    if isinstance(detail, dict):
        return [leaf for value in detail.values() for leaf in _error_leaves(value)]
    if isinstance(detail, list):
        return [leaf for value in detail for leaf in _error_leaves(value)]
    return [] if detail is None else [detail]


def test_the_plan_is_not_taken_for_a_form_and_refuses_the_same():
    # An HTML form's QueryDict is a dict whose get_value reads lists: DRF's loop reads it.
    from django.http import QueryDict

    from requests_app.officer.api import WithdrawIn

    form = QueryDict("reason=No+longer+needed")
    planned = WithdrawIn(data=form)
    assert planned.is_valid(), planned.errors
    with pytest.MonkeyPatch.context() as patch:
        drf_own_loop(patch)
        drfs = WithdrawIn(data=form)
        assert drfs.is_valid()
    assert planned.validated_data == drfs.validated_data
    unknown = WithdrawIn(data=QueryDict("reason=x&sneaky=1"))
    assert not unknown.is_valid()
    assert unknown.errors == {"sneaky": ["This field is not part of the protocol."]}
