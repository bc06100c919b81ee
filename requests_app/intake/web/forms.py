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

from accounts.models import Officer
from portal.jsondepth import json_loads_bounded
from portal.problems import Problem, field_errors
from requests_app.intake.attachments import ALLOWED_MEDIA_TYPES, VerifiedAttachment
from requests_app.intake.schema import MAX_TARGETS, DeclaredAttachment, RequestBody
from requests_app.lifecycle.models import DataCategory, Offence, RequestKind, TargetType
from requests_app.policy.models import PolicyRule
from requests_app.policy.rules import policy_check, policy_rule_for

# What each kind is for, in the words of PROTOCOL §3.10.
KIND_MEANINGS = {
    RequestKind.PRESERVATION: "Keep data while you obtain legal process "
    "(18 U.S.C. 2703(f); EU EPOC-PR).",
    RequestKind.SUBSCRIBER_DATA: "A subpoena or production order for subscriber data, "
    "IP addresses and phone numbers.",
    RequestKind.COURT_ORDER: "A court order for non-content records.",
    RequestKind.SEARCH_WARRANT: "A search warrant.",
    RequestKind.EU_EPOC: "A European Production Order Certificate.",
    RequestKind.EMERGENCY: "Imminent danger of death or serious injury. "
    "A justification instead of a legal document.",
}

ROLE_CHOICES = [
    ("judge", "Judge"),
    ("prosecutor", "Prosecutor"),
    ("police", "Police"),
    ("court", "Court"),
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
        return KIND_MEANINGS[RequestKind(self.kind)]

    @property
    def is_emergency(self) -> bool:
        return self.kind == RequestKind.EMERGENCY

    @property
    def deadline(self) -> str:
        hours = self.rule.deadline_hours
        if hours < 48:
            return "1 hour" if hours == 1 else f"{hours} hours"
        days = round(hours / 24)
        return f"{days} days"

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


class TargetForm(forms.Form):
    """One account, phone number or channel the request is about."""

    type = forms.ChoiceField(label="Type", choices=TargetType.choices)
    value = forms.CharField(
        label="Identifier", max_length=200, widget=forms.TextInput(attrs={"spellcheck": "false"})
    )


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


class RequestForm(forms.Form):
    """The details of one request of a given kind; see ``request_body`` for the wire shape."""

    case_reference = forms.CharField(
        label="Case reference",
        max_length=120,
        help_text="Your own file number, e.g. PF-2026-0412.",
    )
    offence = forms.ChoiceField(label="Offence", choices=[("", "Choose…"), *Offence.choices])
    legal_basis = forms.CharField(
        label="Legal basis",
        max_length=500,
        help_text="The law that allows the request, e.g. Art. 5 Regulation (EU) 2023/1543.",
    )
    authority_name = forms.CharField(
        label="Name of the issuing authority",
        max_length=200,
        help_text="The judge, "
        "prosecutor, court or police officer who issued or validated the order.",
    )
    authority_role = forms.ChoiceField(label="Role", choices=[("", "Choose…"), *ROLE_CHOICES])
    authority_contact = forms.CharField(
        label="Contact",
        max_length=200,
        help_text="A telephone number or address where the authority can be reached.",
    )
    data_categories = forms.MultipleChoiceField(
        label="Data requested",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one category of data."},
    )
    period_from = forms.DateField(label="From", input_formats=[DATE_FORMAT], widget=_date_input())
    period_to = forms.DateField(label="To", input_formats=[DATE_FORMAT], widget=_date_input())
    justification = forms.CharField(
        label="Why this is an emergency",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The imminent danger of death or serious injury, and why the data "
        "cannot wait for legal process.",
    )
    non_disclosure = forms.BooleanField(
        label="The authority orders that the user is not told about this request",
        required=False,
    )
    non_disclosure_until = forms.DateField(
        label="Not to be disclosed until",
        required=False,
        input_formats=[DATE_FORMAT],
        widget=_date_input(),
    )
    non_disclosure_basis = forms.CharField(
        label="Basis of the non-disclosure order",
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
        text = self.cleaned_data.get("attachments") or "[]"
        try:
            declared = json_loads_bounded(text)  # ValueError if nested too deep
        except ValueError:
            raise forms.ValidationError("The chosen files could not be read.") from None
        checked = DeclaredAttachment(data=declared, many=True)
        if not isinstance(declared, list) or not checked.is_valid():
            raise forms.ValidationError("The chosen files could not be read.")
        items = [dict(item) for item in checked.validated_data]
        if len(items) > settings.INTAKE_MAX_ATTACHMENTS:
            raise forms.ValidationError(f"Attach at most {settings.INTAKE_MAX_ATTACHMENTS} files.")
        if len({item["sha256"] for item in items}) != len(items):
            raise forms.ValidationError("The same file was chosen twice.")
        for item in items:
            if item["media_type"] not in ALLOWED_MEDIA_TYPES:
                raise forms.ValidationError(
                    f"{item['filename']}: only PDF, PNG and JPEG files are accepted."
                )
            if item["size"] > settings.INTAKE_MAX_ATTACHMENT_BYTES:
                raise forms.ValidationError(f"{item['filename']} is too large.")
        if sum(item["size"] for item in items) > settings.INTAKE_MAX_TOTAL_BYTES:
            raise forms.ValidationError("The files are too large together.")
        return items

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("period_from"), data.get("period_to")
        if start and end and start > end:
            self.add_error("period_to", "The period ends before it starts.")
        if data.get("non_disclosure"):
            if not data.get("non_disclosure_until"):
                self.add_error("non_disclosure_until", "Give the date the order ends.")
            if not data.get("non_disclosure_basis"):
                self.add_error("non_disclosure_basis", "Give the basis of the order.")
        return data

    def request_body(self, targets: list[dict[str, str]]) -> dict[str, Any]:
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
_TARGET_FIELD = re.compile(r"^targets\.(\d+)\.(type|value)$")
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
        return f"{TARGETS_PREFIX}-{target.group(1)}-{target.group(2)}"
    if path in _PROTOCOL_FIELDS:
        return _PROTOCOL_FIELDS[path]
    head = path.split(".", 1)[0]
    return _PROTOCOL_FIELDS.get(head, "")


@dataclass
class Draft:
    """A checked draft: either the ``request`` object to sign, or what is wrong with it."""

    form: RequestForm
    targets: Any  # TargetFormSet
    request: dict[str, Any] | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


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


def _declared(items: list[dict[str, Any]]) -> list[VerifiedAttachment]:
    # The policy reads only each attachment's media type. The files are not here yet:
    # they arrive with the signed submission, where step 5 checks them before step 6.
    return [
        VerifiedAttachment(
            filename=item["filename"],
            media_type=item["media_type"],
            sha256=item["sha256"],
            size=item["size"],
            upload=cast(UploadedFile, None),
        )
        for item in items
    ]


def draft_check(*, officer: Officer, option: KindOption, data: Any, today: date) -> Draft:
    """Check the posted form against the form's fields, the schema and the policy."""
    form = RequestForm(data, option=option)
    targets = TargetFormSet(data, prefix=TARGETS_PREFIX)
    draft = Draft(form=form, targets=targets)
    if not (form.is_valid() and targets.is_valid()):
        draft.errors = _form_errors(form, targets)
        return draft

    rows = [
        {"type": row.cleaned_data["type"], "value": row.cleaned_data["value"]}
        for row in targets.forms
        if row.cleaned_data
    ]
    body = form.request_body(rows)
    checked = RequestBody(data=body)
    if not checked.is_valid():
        draft.errors = [
            {"field": _page_field(error["field"]), "message": error["message"]}
            for error in field_errors(checked.errors)
        ]
        return draft
    try:
        policy_check(
            agency=officer.agency,
            request=checked.validated_data,
            attachments=_declared(body.get("attachments", [])),
            today=today,
        )
    except Problem as problem:
        rule = str(problem.extra.get("rule", ""))
        draft.errors = [{"field": _POLICY_FIELDS.get(rule, ""), "message": problem.message}]
        return draft
    draft.request = body
    return draft


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
