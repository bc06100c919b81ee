"""Step 1: the body parses, fits the size limits, and matches the schema."""

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from portal.crypto import sha256_hex
from portal.jsondepth import JSONTooDeep, json_depth_check, json_too_deep_message
from portal.problems import Problem, field_errors
from requests_app.intake.schema import Envelope, utc_time_message, utc_time_parse


@dataclass(frozen=True)
class ParsedEnvelope:
    raw_payload: dict[str, Any]  # exactly as received: what was signed
    payload: dict[str, Any]  # validated and typed
    signature: dict[str, Any]
    payload_jcs: bytes
    payload_sha256: str
    envelope_sha256: str
    signed_at: datetime


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        # Two parsers could read different values: the signed meaning would be ambiguous.
        raise ValueError("duplicate key in a JSON object")
    return dict(pairs)


def parse_signed_at(text: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp such as 2026-11-22T10:00:00Z, or raise
    ``ValueError`` with the reason in the active language (an ``errors[].message``)."""
    try:
        return utc_time_parse(text)
    except ValueError:
        raise ValueError(utc_time_message()) from None


@functools.cache
def schema_validator(schema: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance of ``schema`` per process, its tree of fields built once.

    A serializer deep-copies its declared fields into every new instance, which was most
    of the parsing time of a submission (bench/intake.py). The instance is only ever asked
    to ``run_validation`` (no ``data=``, no ``is_valid``), which keeps no state between
    calls, so one instance serves every request.
    """
    validator = schema()
    _fields_build(validator)
    return validator


# A UTF-16 surrogate on its own: JSON can write one ("\ud800"), and Python reads it as such.
_SURROGATE = re.compile("[\ud800-\udfff]")


class SurrogatesProhibited(ProhibitSurrogateCharactersValidator):
    """DRF's refusal of surrogates in text, the same answer for the same first surrogate,
    found by one regular-expression search instead of a Python loop over every character
    (the loop was a fifth of the schema's time)."""

    def __call__(self, value: Any) -> None:
        found = _SURROGATE.search(str(value))
        if found is not None:
            message = self.message.format(code_point=ord(found.group()))
            raise serializers.ValidationError(message, code=self.code)


def _fields_build(field: serializers.Field | None) -> None:
    # Nested serializers build their fields on first use; build them all now, once.
    if isinstance(field, serializers.CharField):
        field.validators = [
            SurrogatesProhibited() if type(v) is ProhibitSurrogateCharactersValidator else v
            for v in field.validators
        ]
    if isinstance(field, serializers.ListSerializer):
        _fields_build(field.child)
    elif isinstance(field, serializers.Serializer):
        for child in field.fields.values():
            _fields_build(child)
    elif isinstance(field, serializers.ListField):
        _fields_build(field.child)


def schema_errors(
    schema: type[serializers.Serializer], document: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """(validated data, ``None``) or (``{}``, DRF's error detail), as ``is_valid`` has them."""
    try:
        return schema_validator(schema).run_validation(document), None
    except serializers.ValidationError as exc:
        return {}, exc.detail


def envelope_parse(
    raw: bytes, *, schema: type[serializers.Serializer] = Envelope
) -> ParsedEnvelope:
    """Return the parsed envelope, or raise ``Problem`` malformed / too_large.

    ``schema`` is the envelope's: a submission's (PROTOCOL §2), or a signed reply's
    (§4.5), which has the same ``payload`` members but ``message`` for ``request``.
    """
    if len(raw) > settings.INTAKE_MAX_ENVELOPE_BYTES:
        raise Problem("too_large", 413, _("The envelope is larger than the protocol allows."))
    try:
        json_depth_check(raw)  # before json recurses into it: never a RecursionError
    except JSONTooDeep as exc:
        raise Problem(
            "malformed",
            400,
            _("The envelope is not a JSON document the portal reads."),
            errors=[{"field": "(envelope)", "message": json_too_deep_message(exc.limit)}],
        ) from None
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Problem(
            "malformed",
            400,
            _("The envelope is not a JSON document."),
            errors=[{"field": "(envelope)", "message": str(exc)[:200]}],
        ) from None
    if not isinstance(document, dict):
        raise Problem(
            "malformed",
            400,
            _("The envelope must be a JSON object."),
            errors=[{"field": "(envelope)", "message": _("Expected an object.")}],
        )

    data, errors = schema_errors(schema, document)
    if errors is not None:
        raise Problem(
            "malformed",
            400,
            _("The envelope does not match the schema."),
            errors=field_errors(errors),
        )
    try:
        signed_at = parse_signed_at(data["payload"]["signed_at"])
    except ValueError as exc:
        raise Problem(
            "malformed",
            400,
            _("The envelope does not match the schema."),
            errors=[{"field": "payload.signed_at", "message": str(exc)}],
        ) from None
    try:
        payload_jcs = rfc8785.dumps(document["payload"])
    except rfc8785.CanonicalizationError as exc:
        raise Problem(
            "malformed",
            400,
            _("The payload cannot be canonicalised (RFC 8785)."),
            errors=[{"field": "payload", "message": str(exc)[:200]}],
        ) from None
    return ParsedEnvelope(
        raw_payload=document["payload"],
        payload=data["payload"],
        signature=dict(data["signature"]),
        payload_jcs=payload_jcs,
        payload_sha256=sha256_hex(payload_jcs),
        envelope_sha256=sha256_hex(raw),
        signed_at=signed_at,
    )
