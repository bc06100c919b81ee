"""The guided submission form: for each request kind, the fields it needs and no others.

The form gathers what the officer typed and shapes it into PROTOCOL §2's ``request``
object. Whether that object is acceptable is decided by the rules intake itself applies
(``intake.schema`` and ``intake.policy``), run here for the preview so that the page
and the gateway cannot disagree; the gateway runs them again on the signed submission.
"""

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.forms import formset_factory
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import Officer
from portal.jsondepth import json_loads_bounded
from portal.problems import Problem, field_errors
from requests_app.intake.attachments import (
    ALLOWED_MEDIA_TYPES,
    VerifiedAttachment,
    attachments_check,
    same_file_message,
    too_large_message,
    too_large_together_message,
    too_many_files_message,
    type_not_accepted_message,
)
from requests_app.intake.schema import MAX_TARGETS, DeclaredAttachment, RequestBody
from requests_app.lifecycle.models import (
    DataCategory,
    LegalRequest,
    Offence,
    RequestKind,
    TargetType,
)
from requests_app.lifecycle.targets import TargetValueError, target_value_normalise, window_message
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import policy_check, policy_rule_for
from requests_app.sources.base import utc_text

# What each kind is for, in the words of PROTOCOL §3.10.
# No country's law is cited here: the form shows the officer's own (``policy.help``).
KIND_MEANINGS = {
    # Translators: preservation = the platform keeps (freezes) data until the authority
    # obtains a court order or other legal process to have it disclosed.
    RequestKind.PRESERVATION: gettext_lazy("Keep data while you obtain legal process."),
    # Translators: subscriber data = the account holder's registration details (name,
    # email, phone number, sign-up IP address).
    RequestKind.SUBSCRIBER_DATA: gettext_lazy(
        "A subpoena or production order for subscriber data, IP addresses and phone numbers."
    ),
    RequestKind.COURT_ORDER: gettext_lazy("A court order for non-content records."),
    RequestKind.SEARCH_WARRANT: gettext_lazy("A search warrant."),
    RequestKind.EU_EPOC: gettext_lazy("A European Production Order Certificate."),
    # Translators: emergency disclosure = data given without a court order because a
    # life is in imminent danger.
    RequestKind.EMERGENCY: gettext_lazy(
        "Imminent danger of death or serious injury. A justification instead of a legal document."
    ),
}

ROLE_CHOICES = [
    ("judge", gettext_lazy("Judge")),
    ("prosecutor", gettext_lazy("Prosecutor")),
    ("police", gettext_lazy("Police")),
    ("court", gettext_lazy("Court")),
]

DATE_FORMAT = "%Y-%m-%d"


@dataclass(frozen=True)
class KindOption:
    """A request kind the officer's country may use, with the rule that governs it."""

    kind: str
    rule: PolicyRule

    @property
    def label(self) -> str:
        return str(RequestKind(self.kind).label)

    @property
    def meaning(self) -> str:
        return str(KIND_MEANINGS[RequestKind(self.kind)])

    @property
    def is_emergency(self) -> bool:
        return self.kind == RequestKind.EMERGENCY

    @property
    def deadline(self) -> str:
        hours = self.rule.deadline_hours
        if hours < 48:
            return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
        days = round(hours / 24)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}

    @property
    def categories(self) -> list[tuple[str, str]]:
        labels = dict(DataCategory.choices)
        return [(c, str(labels[c])) for c in self.rule.disclosable_categories if c in labels]


def kind_options_for(*, officer: Officer) -> list[KindOption]:
    """The kinds the policy of the officer's country allows, in the order of PROTOCOL §3.10."""
    country = str(officer.agency.country)
    options = []
    for kind in RequestKind:
        rule = policy_rule_for(country=country, kind=kind.value)
        if rule is not None and rule.allowed:
            options.append(KindOption(kind=kind.value, rule=rule))
    return options


def kind_option_for(*, officer: Officer, kind: str) -> KindOption | None:
    """One allowed kind for the officer, or ``None`` (unknown, or not for this country)."""
    if kind not in RequestKind.values:
        return None
    rule = policy_rule_for(country=str(officer.agency.country), kind=kind)
    if rule is None or not rule.allowed:
        return None
    return KindOption(kind=kind, rule=rule)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format=DATE_FORMAT)


WINDOW_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]


def _window_input() -> forms.DateTimeInput:
    # The browser's local-time picker, read here as UTC (the label says so).
    return forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"
    )


class UTCDateTimeField(forms.DateTimeField):
    """A time typed in UTC whatever the viewer's zone (IP logs are kept in UTC; the label
    says "UTC"): Django's field would read it in the active zone, the viewer's own."""

    def to_python(self, value: Any) -> Any:
        with timezone.override(UTC):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(UTC):
            return super().prepare_value(value)


class TargetForm(forms.Form):
    """One account, phone number, address or channel the request is about.

    The value is written in its type's form before anything is signed
    (``lifecycle.targets``): a phone number in E.164, read for the agency's country when it
    has no country code; an IP address as RFC 5952 writes it, with the window of its use.
    """

    type = forms.ChoiceField(label=gettext_lazy("Type"), choices=TargetType.choices)
    value = forms.CharField(
        label=gettext_lazy("Identifier"),
        max_length=200,
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    window_from = UTCDateTimeField(
        label=gettext_lazy("Used from (UTC)"),
        required=False,
        input_formats=WINDOW_FORMATS,
        widget=_window_input(),
    )
    window_to = UTCDateTimeField(
        label=gettext_lazy("Used until (UTC)"),
        required=False,
        input_formats=WINDOW_FORMATS,
        widget=_window_input(),
    )

    def __init__(self, *args: Any, region: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = region

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, value = data.get("type"), data.get("value")
        if kind and value:
            try:
                data["value"] = target_value_normalise(kind, value, region=self.region)
            except TargetValueError as refused:
                self.add_error("value", refused.message)
        if kind != TargetType.IP_ADDRESS:
            # The page hides the window for other types; what it may still hold is not sent.
            data["window_from"] = data["window_to"] = None
            return data
        start, end = data.get("window_from"), data.get("window_to")
        if "window_from" in self.errors or "window_to" in self.errors:
            return data
        if start is None or end is None:
            message = window_message(target_type=kind, window=None) or ""
            self.add_error("window_from" if start is None else "window_to", message)
        elif problem := window_message(target_type=kind, window=(start, end)):
            self.add_error("window_to", problem)
        return data

    def wire(self) -> dict[str, Any]:
        """The target as PROTOCOL §2.2 writes it; call once the form is valid."""
        data = self.cleaned_data
        target: dict[str, Any] = {"type": data["type"], "value": data["value"]}
        if data["type"] == TargetType.IP_ADDRESS:
            target["window"] = {
                "from": utc_text(data["window_from"]),
                "to": utc_text(data["window_to"]),
            }
        return target


TargetFormSet = formset_factory(
    TargetForm,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_TARGETS,
    validate_max=True,
    absolute_max=MAX_TARGETS,
)
TARGETS_PREFIX = "targets"


def declarations_read(text: str) -> list[dict[str, Any]]:
    """The files the page declares (PROTOCOL §2.6's attachment objects, as JSON text).

    Raises ``forms.ValidationError`` naming the file at fault: a type that is not
    accepted, one too large, two the same, or too many or too large together.
    """
    try:
        declared = json_loads_bounded(text or "[]")  # ValueError if nested too deep
    except ValueError:
        raise forms.ValidationError(_("The chosen files could not be read.")) from None
    checked = DeclaredAttachment(data=declared, many=True)
    if not isinstance(declared, list) or not checked.is_valid():
        raise forms.ValidationError(_("The chosen files could not be read."))
    items = [dict(item) for item in checked.validated_data]
    if len(items) > settings.INTAKE_MAX_ATTACHMENTS:
        raise forms.ValidationError(too_many_files_message())
    seen: set[str] = set()
    for item in items:
        if item["sha256"] in seen:
            raise forms.ValidationError(same_file_message(item["filename"]))
        seen.add(item["sha256"])
        if item["media_type"] not in ALLOWED_MEDIA_TYPES:
            raise forms.ValidationError(type_not_accepted_message(item["filename"]))
        if item["size"] > settings.INTAKE_MAX_ATTACHMENT_BYTES:
            raise forms.ValidationError(too_large_message(item["filename"]))
    if sum(item["size"] for item in items) > settings.INTAKE_MAX_TOTAL_BYTES:
        raise forms.ValidationError(too_large_together_message())
    return items


class RequestForm(forms.Form):
    """The details of one request of a given kind; see ``request_body`` for the wire shape."""

    case_reference = forms.CharField(
        label=gettext_lazy("Case reference"),
        max_length=120,
        help_text=gettext_lazy("Your own file number, e.g. PF-2026-0412."),
    )
    offence = forms.ChoiceField(
        label=gettext_lazy("Offence"), choices=[("", gettext_lazy("Choose…")), *Offence.choices]
    )
    legal_basis = forms.CharField(
        # Translators: legal basis = the law (statute, article or section) that allows
        # the authority to make the request.
        label=gettext_lazy("Legal basis"),
        max_length=500,
        help_text=gettext_lazy("The law that allows the request."),
    )
    authority_name = forms.CharField(
        label=gettext_lazy("Name of the issuing authority"),
        max_length=200,
        help_text=gettext_lazy(
            "The judge, prosecutor, court or police officer who issued or validated the order."
        ),
    )
    authority_role = forms.ChoiceField(
        label=gettext_lazy("Role"), choices=[("", gettext_lazy("Choose…")), *ROLE_CHOICES]
    )
    authority_contact = forms.CharField(
        label=gettext_lazy("Contact"),
        max_length=200,
        help_text=gettext_lazy("A telephone number or address where the authority can be reached."),
    )
    data_categories = forms.MultipleChoiceField(
        label=gettext_lazy("Data requested"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one category of data.")},
    )
    period_from = forms.DateField(
        label=gettext_lazy("From"), input_formats=[DATE_FORMAT], widget=_date_input()
    )
    period_to = forms.DateField(
        label=gettext_lazy("To"), input_formats=[DATE_FORMAT], widget=_date_input()
    )
    justification = forms.CharField(
        label=gettext_lazy("Why this is an emergency"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "The imminent danger of death or serious injury, and why the data "
            "cannot wait for legal process."
        ),
    )
    non_disclosure = forms.BooleanField(
        # Translators: a non-disclosure order forbids the platform to tell the account
        # holder about the request.
        label=gettext_lazy("The authority orders that the user is not told about this request"),
        required=False,
    )
    non_disclosure_until = forms.DateField(
        label=gettext_lazy("Not to be disclosed until"),
        required=False,
        input_formats=[DATE_FORMAT],
        widget=_date_input(),
    )
    non_disclosure_basis = forms.CharField(
        label=gettext_lazy("Basis of the non-disclosure order"),
        max_length=500,
        required=False,
    )
    # The browser reads each chosen file, hashes it (SHA-256) and declares it here as
    # PROTOCOL §2's attachment objects; the files themselves travel only with the signed
    # submission, where intake step 5 checks them against these declarations.
    attachments = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, option: KindOption, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option = option
        categories = cast(forms.MultipleChoiceField, self.fields["data_categories"])
        categories.choices = option.categories
        if not option.is_emergency:
            del self.fields["justification"]

    @property
    def document_required(self) -> bool:
        return self.option.rule.document_required

    def clean_attachments(self) -> list[dict[str, Any]]:
        return declarations_read(self.cleaned_data.get("attachments") or "[]")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and start > end:
            self.add_error("period_to", _("The period ends before it starts."))
        if data.get("non_disclosure"):
            if not data.get("non_disclosure_until"):
                self.add_error("non_disclosure_until", _("Give the date the order ends."))
            if not data.get("non_disclosure_basis"):
                self.add_error("non_disclosure_basis", _("Give the basis of the order."))
        return data

    def request_body(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        """PROTOCOL §2's ``request`` object; call once the form is valid."""
        data = self.cleaned_data
        body: dict[str, Any] = {
            "kind": self.option.kind,
            "case_reference": data["case_reference"],
            "legal_basis": data["legal_basis"],
            "issuing_authority": {
                "name": data["authority_name"],
                "role": data["authority_role"],
                "contact": data["authority_contact"],
            },
            "offence": data["offence"],
            "targets": targets,
            "data_categories": list(data["data_categories"]),
            "period": {
                "from": data["period_from"].strftime(DATE_FORMAT),
                "to": data["period_to"].strftime(DATE_FORMAT),
            },
        }
        if self.option.is_emergency:
            body["emergency"] = {"justification": data["justification"]}
        if data.get("non_disclosure"):
            body["non_disclosure"] = {
                "until": data["non_disclosure_until"].strftime(DATE_FORMAT),
                "basis": data["non_disclosure_basis"],
            }
        if data["attachments"]:
            body["attachments"] = data["attachments"]
        return body


# Where a refusal of the protocol's rules belongs on the page.
_PROTOCOL_FIELDS = {
    "case_reference": "case_reference",
    "legal_basis": "legal_basis",
    "offence": "offence",
    "issuing_authority.name": "authority_name",
    "issuing_authority.role": "authority_role",
    "issuing_authority.contact": "authority_contact",
    "data_categories": "data_categories",
    "period": "period_to",
    "period.from": "period_from",
    "period.to": "period_to",
    "emergency": "justification",
    "emergency.justification": "justification",
    "non_disclosure.until": "non_disclosure_until",
    "non_disclosure.basis": "non_disclosure_basis",
    "targets": TARGETS_PREFIX,
    "attachments": "attachments",
}
_TARGET_FIELD = re.compile(r"^targets\.(\d+)\.(type|value|window)(?:\.(from|to))?$")
_POLICY_FIELDS = {
    "category_not_disclosable": "data_categories",
    "document_required": "attachments",
    "period_required": "period_from",
    "period_too_long": "period_to",
    "period_in_future": "period_from",
    "non_disclosure_expired": "non_disclosure_until",
    "non_disclosure_too_long": "non_disclosure_until",
}


def _page_field(path: str) -> str:
    """The form field that shows a refusal of the protocol field at ``path``."""
    target = _TARGET_FIELD.match(path)
    if target:
        name = target.group(2)
        if name == "window":
            name = "window_to" if target.group(3) == "to" else "window_from"
        return f"{TARGETS_PREFIX}-{target.group(1)}-{name}"
    if path in _PROTOCOL_FIELDS:
        return _PROTOCOL_FIELDS[path]
    head = path.split(".", 1)[0]
    return _PROTOCOL_FIELDS.get(head, "")


def target_formset(data: Any = None, *, officer: Officer, initial: Any = None) -> Any:
    """The targets of the form; phone numbers without a country code are the agency's."""
    return TargetFormSet(
        data,
        prefix=TARGETS_PREFIX,
        initial=initial,
        form_kwargs={"region": str(officer.agency.country)},
    )


@dataclass
class Checked:
    """A checked form: either the ``request`` object to sign, or what is wrong with it."""

    form: RequestForm
    targets: Any  # TargetFormSet
    request: dict[str, Any] | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    attachments: list[VerifiedAttachment] = field(default_factory=list)


def _form_errors(form: RequestForm, targets: Any) -> list[dict[str, str]]:
    errors = [
        {"field": "" if name == "__all__" else form.add_prefix(name), "message": str(message)}
        for name, messages in form.errors.items()
        for message in messages
    ]
    for row in targets.forms:
        errors.extend(
            {"field": row.add_prefix(name), "message": str(message)}
            for name, messages in row.errors.items()
            for message in messages
        )
    errors.extend(
        {"field": TARGETS_PREFIX, "message": str(message)} for message in targets.non_form_errors()
    )
    return errors


def files_check(
    declared: list[dict[str, Any]], uploads: list[UploadedFile]
) -> tuple[list[VerifiedAttachment], str]:
    """Each chosen file, checked as intake checks it (type, content, size, hash): the files
    and no message, or no files and the message that names the file at fault."""
    try:
        return attachments_check(declared=declared, uploads=uploads), ""
    except Problem as problem:
        return [], problem.message


def request_form_check(
    *, officer: Officer, option: KindOption, data: Any, uploads: list[UploadedFile], today: date
) -> Checked:
    """Check the posted form and its files as intake will check the signed submission.

    Everything that does not need the signature: the form's fields and the target
    formats, each file (its type, its content, its size, its hash against the
    declaration), the schema and the policy. Nothing is stored. What passes here is
    refused later only for the signature itself (or a clock or limit that moved on).
    """
    form = RequestForm(data, option=option)
    targets = target_formset(data, officer=officer)
    checked = Checked(form=form, targets=targets)
    fields_valid = form.is_valid() & targets.is_valid()  # both run: every error at once
    errors = [] if fields_valid else _form_errors(form, targets)
    if "attachments" not in form.errors:
        declared = form.cleaned_data.get("attachments", [])
        checked.attachments, problem = files_check(declared, uploads)
        if problem:
            errors.append({"field": "attachments", "message": problem})
    if errors:
        checked.errors = errors
        return checked

    rows = [row.wire() for row in targets.forms if row.cleaned_data]
    body = form.request_body(rows)
    schema = RequestBody(data=body)
    if not schema.is_valid():
        checked.errors = [
            {"field": _page_field(error["field"]), "message": error["message"]}
            for error in field_errors(schema.errors)
        ]
        return checked
    try:
        policy_check(
            agency=officer.agency,
            request=schema.validated_data,
            attachments=checked.attachments,
            today=today,
        )
    except Problem as problem:
        rule = str(problem.extra.get("rule", ""))
        checked.errors = [{"field": _POLICY_FIELDS.get(rule, ""), "message": problem.message}]
        return checked
    checked.request = body
    return checked


# --- The preview's table -------------------------------------------------------------------


def _text(text: str) -> list[dict[str, str]]:
    return [{"text": text}]


def _period(start: str, end: str) -> list[dict[str, str]]:
    """``from`` to ``to``, each a time element for the page."""
    before, _sep, after = _("%(from)s to %(to)s").partition("%(to)s")
    head, _sep2, middle = before.partition("%(from)s")
    parts = [{"text": head}, {"time": start, "text": start}, {"text": middle}]
    parts += [{"time": end, "text": end}, {"text": after}]
    return [part for part in parts if part["text"]]


def _moment(text: str) -> dict[str, str]:
    """A time of the payload (RFC 3339 UTC) as the page shows it: 2026-02-01 08:00:00."""
    return {"time": text, "text": text.removesuffix("Z").replace("T", " ")}


def _target_line(target: dict[str, Any]) -> list[dict[str, str]]:
    label = str(TargetType(target["type"]).label)
    line = [{"text": f"{label}: {target['value']}"}]
    window = target.get("window")
    if window:
        before, _sep, after = _("used %(from)s to %(to)s UTC").partition("%(to)s")
        head, _sep2, middle = before.partition("%(from)s")
        line += [
            {"text": f" ({head}"},
            _moment(window["from"]),
            {"text": middle},
            _moment(window["to"]),
            {"text": f"{after})"},
        ]
    return line


def preview_summary(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request in a short table, in words, for the officer to read before signing.

    Each row is ``{"label", "items"}``; each item a line of parts, ``{"text"}`` or a time
    ``{"time", "text"}``. Made from the very ``request`` object that will be signed.
    """
    categories = dict(DataCategory.choices)
    roles = dict(ROLE_CHOICES)
    authority = request["issuing_authority"]
    rows: list[dict[str, Any]] = [
        {"label": _("Kind"), "items": [_text(str(RequestKind(request["kind"]).label))]},
        {"label": _("Case reference"), "items": [_text(request["case_reference"])]},
        {"label": _("Offence"), "items": [_text(str(Offence(request["offence"]).label))]},
        {"label": _("Legal basis"), "items": [_text(request["legal_basis"])]},
        {
            "label": _("Issuing authority"),
            "items": [
                _text(f"{authority['name']} ({roles.get(authority['role'], authority['role'])})"),
                _text(authority["contact"]),
            ],
        },
    ]
    if "emergency" in request:
        rows.append(
            {
                "label": _("Why this is an emergency"),
                "items": [_text(request["emergency"]["justification"])],
            }
        )
    rows += [
        {"label": _("Targets"), "items": [_target_line(t) for t in request["targets"]]},
        {
            "label": _("Data requested"),
            "items": [_text(str(categories.get(c, c))) for c in request["data_categories"]],
        },
        {
            "label": _("Period"),
            "items": [_period(request["period"]["from"], request["period"]["to"])],
        },
    ]
    if "non_disclosure" in request:
        order = request["non_disclosure"]
        rows.append(
            {
                "label": _("Not to be disclosed until"),
                "items": [
                    [{"time": order["until"], "text": order["until"]}],
                    _text(order["basis"]),
                ],
            }
        )
    files = request.get("attachments", [])
    rows.append(
        {
            "label": _("Files"),
            "items": [
                _text(f"{item['filename']} ({filesizeformat(item['size'])})") for item in files
            ]
            or [_text(_("None"))],
        }
    )
    return rows


# --- Drafts: the form's fields kept as typed --------------------------------------------

# The longest text any field takes (an emergency's justification).
DRAFT_MAX_VALUE = 4000
_TARGET_NAMES = ("type", "value", "window_from", "window_to")


def draft_fields(data: Any, *, option: KindOption) -> tuple[dict[str, Any], list[str]]:
    """The posted form's fields as a draft keeps them, and what is too long to keep.

    Only the fields of the kind's form, unchecked otherwise: a draft may be unfinished.
    """
    form = RequestForm(option=option)
    fields: dict[str, Any] = {}
    too_long: list[str] = []
    for name in form.fields:
        if name == "attachments":
            continue
        if name == "data_categories":
            fields[name] = [str(v)[:40] for v in data.getlist(name)][: len(DataCategory)]
            continue
        value = data.get(name)
        if value is None or value == "":
            continue
        if len(value) > DRAFT_MAX_VALUE:
            too_long.append(name)
            continue
        fields[name] = value
    try:
        rows = min(int(data.get(f"{TARGETS_PREFIX}-TOTAL_FORMS", "0")), MAX_TARGETS)
    except ValueError:
        rows = 0
    targets = []
    for index in range(max(rows, 0)):
        row = {}
        for name in _TARGET_NAMES:
            value = data.get(f"{TARGETS_PREFIX}-{index}-{name}", "")
            if len(value) > 200:
                too_long.append(f"{TARGETS_PREFIX}-{index}-{name}")
                value = ""
            row[name] = value
        targets.append(row)
    fields["targets"] = targets
    return fields, too_long


def draft_initial(fields: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The initial values of the form and of its targets, from a draft's fields."""
    initial = {name: value for name, value in fields.items() if name != "targets"}
    if "non_disclosure" in initial:
        initial["non_disclosure"] = bool(initial["non_disclosure"])
    targets = [
        {name: row.get(name, "") for name in _TARGET_NAMES}
        for row in fields.get("targets", [])
        if isinstance(row, dict)
    ]
    return initial, targets or [{"type": TargetType.USERNAME, "value": ""}]


def _window_input_text(text: str) -> str:
    """An RFC 3339 UTC time as the window's input shows it (2026-02-01T08:00:00)."""
    return text.removesuffix("Z").split(".", 1)[0]


def fields_of_request(request: LegalRequest, *, with_targets: bool) -> dict[str, Any]:
    """A draft's fields from an earlier request: its details, and its targets if chosen."""
    body = request.payload.get("request", {})
    authority = body.get("issuing_authority", {})
    fields: dict[str, Any] = {
        "case_reference": body.get("case_reference", ""),
        "offence": body.get("offence", ""),
        "legal_basis": body.get("legal_basis", ""),
        "authority_name": authority.get("name", ""),
        "authority_role": authority.get("role", ""),
        "authority_contact": authority.get("contact", ""),
        "data_categories": list(body.get("data_categories", [])),
    }
    if period := body.get("period"):
        fields["period_from"], fields["period_to"] = period.get("from", ""), period.get("to", "")
    if emergency := body.get("emergency"):
        fields["justification"] = emergency.get("justification", "")
    if order := body.get("non_disclosure"):
        fields["non_disclosure"] = "on"
        fields["non_disclosure_until"] = order.get("until", "")
        fields["non_disclosure_basis"] = order.get("basis", "")
    targets = []
    if with_targets:
        for target in body.get("targets", []):
            window = target.get("window") or {}
            targets.append(
                {
                    "type": target.get("type", ""),
                    "value": target.get("value", ""),
                    "window_from": _window_input_text(window.get("from", "")),
                    "window_to": _window_input_text(window.get("to", "")),
                }
            )
    fields["targets"] = targets
    return fields


def payload_for_signing(*, request: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The whole payload the officer's passkey will sign (PROTOCOL §2).

    The time is the portal's, so that a browser with a wrong clock still signs a payload
    within the five-minute window; the nonce is 256 random bits.
    """
    return {
        "portal": settings.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(32),
        "signed_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": request,
    }
