"""The submission document's schema (PROTOCOL §2), strict: unknown fields are errors."""

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty, get_error_detail

from requests_app.lifecycle.models import DataCategory, Offence, RequestKind, TargetType
from requests_app.lifecycle.targets import (
    TargetValueError,
    target_value_check,
    window_message,
    window_order_message,
    window_outside_period,
)

# \Z, not $: a $ would also match before a final newline.
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,200}\Z")  # base64url, at least 128 bits
HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # RFC 3339 full-date, matched whole
# RFC 3339 date-time in UTC: fromisoformat alone would also take week dates, the basic
# format and times without seconds, which other readers of the signed payload would not.
UTC_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
MAX_TARGETS = 50
MAX_ATTACHMENTS = 10


def json_type_expected(field: serializers.Field) -> type | None:
    """The JSON type ``field`` stands for (``int`` or ``str``), or ``None`` for another kind.

    DRF converts on its way in: a number becomes text for a CharField, and "12", 12.0 or
    "12.0" become 12 for an IntegerField. The signed payload must mean one thing to every
    reader, so the protocol takes each value only in its own JSON type.
    """
    if isinstance(field, serializers.IntegerField):
        return int
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.DateField):
        return str
    return None


def json_type_problem(expected: type | None, value: Any) -> str | None:
    """Why ``value`` is not of the JSON type ``expected`` (``json_type_expected``), or
    ``None``."""
    if value is None or expected is None:
        return None  # null: the field's own rule answers; another kind: its own check
    if expected is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return _("Expected a JSON integer.")
    elif not isinstance(value, str):
        return _("Expected a JSON string.")
    return None


# DRF's ``get_value`` methods that, given a plain dict (not an HTML form), answer
# ``dict.get(field_name, empty)``: the plan reads such a field's value itself.
_PLAIN_GET_VALUE = frozenset(
    {
        serializers.Field.get_value,
        serializers.ListField.get_value,
        serializers.DictField.get_value,
        serializers.Serializer.get_value,
        serializers.ListSerializer.get_value,
    }
)


@dataclass(frozen=True)
class _FieldRun:
    """What running one field of a serializer needs, looked up once (``_Plan``)."""

    field: serializers.Field
    name: str
    json_type: type | None
    validate_method: Any  # the serializer's ``validate_<name>``, or None
    source_attrs: tuple[str, ...]
    reads_plainly: bool  # its ``get_value`` of a plain dict is ``dict.get(name, empty)``


@dataclass(frozen=True)
class _Plan:
    names: frozenset[str]
    writable: tuple[_FieldRun, ...]
    read_only_defaults: bool  # whether any field has a read-only default to add


class StrictSerializer(serializers.Serializer):
    """A serializer that refuses fields it does not declare, and values of another type."""

    # (Comments, not the docstring: drf-spectacular publishes the docstring as the
    # description of every schema that has none of its own.)
    #
    # Its fields run as DRF's own ``Serializer.to_internal_value`` runs them (the same
    # calls, answers and errors, in the same order), from a plan of the fields looked up
    # once per serializer instance. DRF looks each field's writability, source and
    # ``validate_<name>`` method up again for every document; for intake's schema, whose
    # one instance serves every submission (``parse.schema_validator``), that look-up was
    # more than a third of the schema's time (bench/intake.py). A document that is not a
    # plain ``dict`` (an HTML form's ``QueryDict``) goes to DRF's own loop.

    @functools.cached_property
    def _plan(self) -> _Plan:
        fields = self.fields
        return _Plan(
            names=frozenset(fields),
            writable=tuple(
                _FieldRun(
                    field=field,
                    name=name,  # the field's ``field_name``: it was bound under it
                    json_type=json_type_expected(field),
                    validate_method=getattr(self, "validate_" + name, None),
                    source_attrs=tuple(field.source_attrs),
                    reads_plainly=type(field).get_value in _PLAIN_GET_VALUE,
                )
                for name, field in fields.items()
                if not field.read_only
            ),
            read_only_defaults=any(
                field.read_only and field.default is not empty for field in fields.values()
            ),
        )

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            return super().to_internal_value(data)
        plan = self._plan
        if not plan.names.issuperset(data):
            raise serializers.ValidationError(
                {
                    name: [_("This field is not part of the protocol.")]
                    for name in sorted(set(data) - plan.names)
                }
            )
        mistyped = {
            run.name: [problem]
            for run in plan.writable
            if run.name in data and (problem := json_type_problem(run.json_type, data[run.name]))
        }
        if mistyped:
            raise serializers.ValidationError(mistyped)
        if type(data) is not dict:
            return super().to_internal_value(data)
        return self._fields_run(data, plan)

    def _fields_run(self, data: dict[str, Any], plan: _Plan) -> dict[str, Any]:
        """DRF's ``Serializer.to_internal_value`` loop for a plain ``dict``, over ``plan``."""
        validated: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for run in plan.writable:
            try:
                value = run.field.run_validation(
                    data.get(run.name, empty) if run.reads_plainly else run.field.get_value(data)
                )
                if run.validate_method is not None:
                    value = run.validate_method(value)
            except serializers.ValidationError as exc:
                errors[run.name] = exc.detail
            except DjangoValidationError as exc:
                errors[run.name] = get_error_detail(exc)
            except SkipField:
                pass
            else:
                if len(run.source_attrs) == 1:
                    validated[run.source_attrs[0]] = value
                else:
                    self.set_value(validated, list(run.source_attrs), value)
        if errors:
            raise serializers.ValidationError(errors)
        return validated

    def _read_only_defaults(self) -> dict[str, Any]:
        # DRF builds this for every document; the strict serializers have no such field.
        if not self._plan.read_only_defaults:
            return {}
        return super()._read_only_defaults()


class StrictSerializerSchema(OpenApiSerializerExtension):
    """The OpenAPI description says it too: ``additionalProperties: false``."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer(
            self.target, direction, bypass_extensions=True
        )
        schema["additionalProperties"] = False
        return schema


class FullDate(serializers.DateField):
    """A date written exactly YYYY-MM-DD (strptime alone would also take 2026-1-1)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and not FULL_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


def utc_time_message() -> str:
    """What a time that ``utc_time_parse`` refuses should look like, in the active language."""
    return _("A UTC time written YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-02-01T08:00:00Z.")


def utc_time_parse(text: str) -> datetime:
    """Parse an RFC 3339 UTC time such as 2026-11-22T10:00:00Z, or raise ``ValueError``."""
    if not text.endswith("Z"):
        raise ValueError("must be UTC, ending in Z")
    if not UTC_TIME.fullmatch(text):
        raise ValueError("must be RFC 3339, such as 2026-11-22T10:00:00Z")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone")
    return moment


@extend_schema_field({"type": "string", "format": "date-time", "pattern": UTC_TIME.pattern})
class UtcTime(serializers.CharField):
    """A time written YYYY-MM-DDTHH:MM:SSZ (fractions of a second allowed), read as UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=40, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        text = super().to_internal_value(data)
        try:
            utc_time_parse(text)
        except ValueError:
            raise serializers.ValidationError(utc_time_message()) from None
        return text  # the field's validators (its length) read text; validate() parses it


class IssuingAuthority(StrictSerializer):
    name = serializers.CharField(max_length=200)
    role = serializers.ChoiceField(choices=["judge", "prosecutor", "police", "court"])
    contact = serializers.CharField(max_length=200)


class TargetWindow(StrictSerializer):
    """When an IP address was used: ``from`` and ``to``, both ends included."""

    to = UtcTime()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = UtcTime()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = {name: utc_time_parse(attrs[name]) for name in ("from", "to")}
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": [window_order_message()]})
        return attrs


class Target(StrictSerializer):
    """One target: its ``value`` must be of its ``type`` (``lifecycle.targets``); an
    ``ip_address`` carries the ``window`` in which it was used, and no other type does."""

    type = serializers.ChoiceField(choices=TargetType.choices)
    value = serializers.CharField(max_length=200)
    window = TargetWindow(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        try:
            target_value_check(attrs["type"], attrs["value"])
        except TargetValueError as refused:
            errors["value"] = [refused.message]
        window = attrs.get("window")
        problem = window_message(
            target_type=attrs["type"],
            window=(window["from"], window["to"]) if window else None,
        )
        if problem:
            errors["window"] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class Period(StrictSerializer):
    # "from" is a Python keyword: the field is declared under its wire name below.
    to = FullDate()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = FullDate()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"to": [_("The period ends before it starts.")]})
        return attrs


class Emergency(StrictSerializer):
    justification = serializers.CharField(max_length=4000)


class NonDisclosure(StrictSerializer):
    until = FullDate()
    basis = serializers.CharField(max_length=500)


class DeclaredAttachment(StrictSerializer):
    filename = serializers.CharField(max_length=200)
    media_type = serializers.CharField(max_length=100)
    sha256 = serializers.RegexField(
        HEX64,
        trim_whitespace=False,
        error_messages={"invalid": gettext_lazy("Lowercase hex SHA-256.")},
    )
    size = serializers.IntegerField(min_value=1, max_value=2**53 - 1)


class RequestBody(StrictSerializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices)
    case_reference = serializers.CharField(max_length=120)
    legal_basis = serializers.CharField(max_length=500)
    issuing_authority = IssuingAuthority()
    offence = serializers.ChoiceField(choices=Offence.choices)
    targets = Target(many=True, allow_empty=False, max_length=MAX_TARGETS)  # type: ignore[call-arg]
    data_categories = serializers.ListField(
        child=serializers.ChoiceField(choices=DataCategory.values), allow_empty=False
    )
    period = Period(required=False)
    emergency = Emergency(required=False)
    non_disclosure = NonDisclosure(required=False)
    attachments = DeclaredAttachment(many=True, required=False, max_length=MAX_ATTACHMENTS)  # type: ignore[call-arg]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        is_emergency = attrs["kind"] == RequestKind.EMERGENCY
        if is_emergency and "emergency" not in attrs:
            raise serializers.ValidationError(
                {"emergency": [_("An emergency request needs a justification.")]}
            )
        if not is_emergency and "emergency" in attrs:
            raise serializers.ValidationError(
                {"emergency": [_("Only an emergency request carries a justification.")]}
            )
        categories = attrs["data_categories"]
        if len(set(categories)) != len(categories):
            raise serializers.ValidationError({"data_categories": [_("Each category once.")]})
        period = attrs.get("period")
        if period:
            outside: dict[Any, Any] = {
                index: {"window": [window_outside_period()]}
                for index, target in enumerate(attrs["targets"])
                if (window := target.get("window"))
                and (window["from"].date() < period["from"] or window["to"].date() > period["to"])
            }
            if outside:
                raise serializers.ValidationError({"targets": outside})
        return attrs


class SignedPayload(StrictSerializer):
    # The members every signed payload carries beside its content: a submission's
    # (``Payload``, PROTOCOL §2) and a signed reply's (``officer.signed_reply``, §4.5).
    # No docstring: the schemas built on it keep the description they published.

    portal = serializers.CharField(max_length=300)
    nonce = serializers.RegexField(
        NONCE_PATTERN,
        trim_whitespace=False,  # the nonce is exactly what was signed
        error_messages={"invalid": gettext_lazy("base64url, at least 128 bits (22 chars).")},
    )
    signed_at = serializers.CharField(max_length=40)


class Payload(SignedPayload):
    request = RequestBody()


class Signature(StrictSerializer):
    alg = serializers.ChoiceField(choices=["ed25519", "webauthn"])
    key_id = serializers.CharField(max_length=200)
    value = serializers.CharField(max_length=2000)
    authenticator_data = serializers.CharField(max_length=4000, required=False)
    client_data_json = serializers.CharField(max_length=8000, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        webauthn_fields = {"authenticator_data", "client_data_json"}
        if attrs["alg"] == "webauthn" and not webauthn_fields <= set(attrs):
            raise serializers.ValidationError(
                {"authenticator_data": [_("A webauthn signature carries the assertion fields.")]}
            )
        if attrs["alg"] == "ed25519" and webauthn_fields & set(attrs):
            raise serializers.ValidationError(
                {"alg": [_("An ed25519 signature carries only alg, key_id and value.")]}
            )
        return attrs


class Envelope(StrictSerializer):
    payload = Payload()
    signature = Signature()
