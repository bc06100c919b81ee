"""Forms of the reviewers' decision tools: labels, hints and input checks only.

The rules (who may act, what the state allows, the four eyes, the approved scope within
the asked one) live in ``services``; these forms refuse malformed input early and give
the reviewer field-level messages. Every form here refuses a field it does not define, so
nothing can be smuggled into an action by adding it to the POST.
"""

from datetime import date
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from portal.forms import form_errors  # noqa: F401  (the views import it from here)
from requests_app.lifecycle.models import DataCategory, LegalRequest
from requests_app.review.models import AssessmentItem, EmergencyCallback, RejectionReason

if TYPE_CHECKING:  # the stubs' name for a string or a lazy translation
    from django_stubs_ext import StrOrPromise

NOTE_MAX = 2000
MESSAGE_MAX = 5000
# Sent by every form of the portal, defined by none.
ALWAYS_ALLOWED = frozenset({"csrfmiddlewaretoken"})


class StrictForm(forms.Form):
    """A form that refuses any submitted field it does not define.

    A forged POST that adds, say, ``targets`` to the hand-over form is refused as a whole
    instead of being silently ignored, so an attempt is visible and nothing happens.
    """

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        unexpected = sorted(set(self.data) - set(self.fields) - ALWAYS_ALLOWED)
        if unexpected:
            raise ValidationError(
                gettext("This form does not take %(names)s; nothing was done."),
                code="unexpected_fields",
                params={"names": ", ".join(unexpected)},
            )
        return cleaned


def _note_field(
    label: "StrOrPromise", help_text: "StrOrPromise" = "", *, required: bool = False
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=NOTE_MAX,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _message_field(
    label: "StrOrPromise", help_text: "StrOrPromise", *, required: bool
) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=MESSAGE_MAX,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class EmptyForm(StrictForm):
    """An action that takes no input (claim, confirm): only the CSRF token may come."""


class ReviewerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.full_name} ({obj.email})"


class AssignForm(StrictForm):
    assignee = ReviewerChoiceField(
        label=_("Give to"),
        queryset=User.objects.none(),
        empty_label=None,
        help_text=_("A colleague of the legal team; they see it in their queue at once."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(ReviewerChoiceField, self.fields["assignee"])
        field.queryset = User.objects.filter(role=Role.REVIEWER, is_active=True).order_by(
            "full_name", "pk"
        )


ASSESSMENT_CHOICES = [("yes", _("Satisfied")), ("no", _("Not satisfied"))]


class AssessmentForm(StrictForm):
    """The checklist: each item satisfied or not, with a note (required when not)."""

    def __init__(self, *args: Any, items: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        items = items or {}
        for item in AssessmentItem:
            saved = items.get(item.value) or {}
            ok = saved.get("ok")
            self.fields[item.value] = forms.ChoiceField(
                label=item.label,
                choices=ASSESSMENT_CHOICES,
                widget=forms.RadioSelect,
                required=False,
                initial="yes" if ok is True else "no" if ok is False else None,
            )
            note = _note_field(gettext("Note: %(item)s") % {"item": str(item.label).lower()})
            note.initial = saved.get("note", "")
            self.fields[f"{item.value}_note"] = note

    def item_pairs(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """The (judgement, note) bound fields of each item, in checklist order."""
        return [(self[item.value], self[f"{item.value}_note"]) for item in AssessmentItem]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not any(cleaned.get(item.value) for item in AssessmentItem):
            raise ValidationError(
                gettext("Judge at least one item of the checklist."), code="empty"
            )
        for item in AssessmentItem:
            if cleaned.get(item.value) == "no" and not cleaned.get(f"{item.value}_note"):
                self.add_error(f"{item.value}_note", gettext("Say why this item is not satisfied."))
        return cleaned

    def items(self) -> dict[str, dict[str, Any]]:
        """The judged items, as ``assessment_save`` takes them; unanswered ones are left out."""
        return {
            item.value: {
                "ok": self.cleaned_data[item.value] == "yes",
                "note": self.cleaned_data[f"{item.value}_note"],
            }
            for item in AssessmentItem
            if self.cleaned_data.get(item.value)
        }


class ClarificationForm(StrictForm):
    body = _message_field(
        _("Question for the authority"),
        _(
            "The officer reads this in the portal and through the API. The deadline clock "
            "stops until they answer."
        ),
        required=True,
    )


class ResumeForm(StrictForm):
    note = _note_field(
        _("Why review resumes without the authority's answer"),
        _(
            "For example: the officer answered by phone. Kept in the request's history; the "
            "deadline clock runs again from now."
        ),
        required=True,
    )


class CloseForm(StrictForm):
    note = _note_field(
        _("Why the request is closed"),
        _("Kept in the request's history. A closed request takes no further action."),
        required=True,
    )


class EmergencyCallbackForm(StrictForm):
    outcome = forms.ChoiceField(
        label=_("Outcome of the call"),
        choices=EmergencyCallback.Outcome.choices,
        widget=forms.RadioSelect,
    )
    note = _note_field(_("Note"), _("Who answered, their role, and what they confirmed."))


def _category_label(value: str) -> str:
    return str(dict(DataCategory.choices).get(value, value))


class ProposeApprovalForm(StrictForm):
    """Approve in full or in part: every choice is limited to what the authority asked."""

    targets = forms.TypedMultipleChoiceField(
        label=_("Targets"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only the targets named in the request can be chosen."),
    )
    categories = forms.MultipleChoiceField(
        label=_("Data categories"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only the categories the authority asked for can be chosen."),
    )
    period_from = forms.DateField(label=_("Period from"))
    period_to = forms.DateField(label=_("Period to (inclusive)"))
    message = _message_field(
        _("Message for the authority"),
        _("Optional. Sent with the response, for instance why the approval is partial."),
        required=False,
    )
    note = _note_field(
        _("Internal note"), _("Read by the second reviewer, never by the authority.")
    )

    def __init__(self, *args: Any, legal_request: LegalRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.legal_request = legal_request
        targets = list(legal_request.targets.all())
        targets_field = cast(forms.TypedMultipleChoiceField, self.fields["targets"])
        targets_field.choices = [(t.pk, f"{t.get_type_display()}: {t.value}") for t in targets]
        targets_field.initial = [t.pk for t in targets]
        categories_field = cast(forms.MultipleChoiceField, self.fields["categories"])
        categories_field.choices = [(c, _category_label(c)) for c in legal_request.data_categories]
        categories_field.initial = list(legal_request.data_categories)
        asked_from, asked_to = legal_request.period_from, legal_request.period_to
        for name, initial in (("period_from", asked_from), ("period_to", asked_to)):
            field = self.fields[name]
            field.initial = initial
            attrs: dict[str, str] = {"type": "date"}
            if asked_from:
                attrs["min"] = asked_from.isoformat()
            if asked_to:
                attrs["max"] = asked_to.isoformat()
            field.widget = forms.DateInput(attrs=attrs, format="%Y-%m-%d")
        if asked_from or asked_to:
            self.fields["period_from"].help_text = gettext(
                "Within the asked period: %(period)s"
            ) % {"period": _period_text(asked_from, asked_to)}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start: date | None = cleaned.get("period_from")
        end: date | None = cleaned.get("period_to")
        asked_from, asked_to = self.legal_request.period_from, self.legal_request.period_to
        if start and asked_from and start < asked_from:
            self.add_error(
                "period_from", gettext("The period cannot start before the asked period.")
            )
        if end and asked_to and end > asked_to:
            self.add_error("period_to", gettext("The period cannot end after the asked period."))
        if start and end and start > end:
            self.add_error("period_to", gettext("The period ends before it starts."))
        return cleaned


def _period_text(start: date | None, end: date | None) -> str:
    open_end = gettext("open")
    return gettext("%(start)s to %(end)s") % {
        "start": start.isoformat() if start else open_end,
        "end": end.isoformat() if end else open_end,
    }


class SendBackForm(StrictForm):
    note = _note_field(
        _("Why it is not confirmed"),
        _("Kept with the decision and in the audit log; the proposer reads it."),
        required=True,
    )

    def __init__(self, *args: Any, own: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if own:
            self.fields["note"].label = gettext("Why you withdraw it")
            self.fields["note"].help_text = gettext("Kept with the decision and in the audit log.")


class RejectForm(StrictForm):
    reason_code = forms.ChoiceField(
        label=_("Reason"),
        choices=RejectionReason.choices,
        widget=forms.RadioSelect,
        help_text=_("The EU grounds for non-execution are among these."),
    )
    message = _message_field(
        _("Message for the authority"),
        _(
            "The officer reads this; say what is missing or wrong and whether a new request "
            "could succeed."
        ),
        required=True,
    )
    note = _note_field(_("Internal note"), _("Never shown to the authority."))


class DiscloseForm(StrictForm):
    """Hand a confirmed approval to delivery; the scope is the decision's, never the form's."""

    note = _message_field(
        _("Note for the authority"),
        _("Optional; sealed with the response. Without one the approval's message is used."),
        required=False,
    )


class ChecklistAndProposal:
    """The checklist and the proposal in one form, sent with one click.

    Two submit buttons share it: "Save the checklist" sends ``then=save``, "Save and
    propose" sends ``then=propose``. Each part is checked by its own form (so the same
    rules and messages apply as when they were two forms), and a field that neither
    defines refuses the whole, like every ``StrictForm``.
    """

    SAVE = "save"
    PROPOSE = "propose"

    def __init__(
        self,
        data: Any = None,
        *,
        legal_request: LegalRequest,
        items: dict[str, Any] | None = None,
    ) -> None:
        checklist_names = {item.value for item in AssessmentItem} | {
            f"{item.value}_note" for item in AssessmentItem
        }
        proposal_names = set(ProposeApprovalForm.base_fields)
        self.bound = data is not None
        self.then = str(data.get("then", self.SAVE)) if data is not None else self.SAVE
        self.unexpected: list[str] = []
        if data is None:
            self.checklist = AssessmentForm(items=items)
            self.proposal = ProposeApprovalForm(legal_request=legal_request)
            return
        self.unexpected = sorted(
            set(data) - checklist_names - proposal_names - ALWAYS_ALLOWED - {"then"}
        )
        if self.then not in (self.SAVE, self.PROPOSE):
            self.unexpected.append("then")
        self.checklist = AssessmentForm(_only(data, checklist_names))
        self.proposal = ProposeApprovalForm(
            _only(data, proposal_names), legal_request=legal_request
        )

    @property
    def proposing(self) -> bool:
        return self.then == self.PROPOSE

    def is_valid(self) -> bool:
        checklist_ok = self.checklist.is_valid()
        proposal_ok = self.proposal.is_valid() if self.proposing else True
        return not self.unexpected and checklist_ok and proposal_ok

    def errors(self) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if self.unexpected:
            found.append(
                (
                    "",
                    gettext("This form does not take %(names)s; nothing was done.")
                    % {"names": ", ".join(self.unexpected)},
                )
            )
        found += form_errors(self.checklist)
        if self.proposing:
            found += form_errors(self.proposal)
        return found


def _only(data: Any, names: set[str]) -> Any:
    """A copy of a QueryDict (or dict) with only ``names``, lists kept."""
    kept = data.copy()
    for name in list(kept):
        if name not in names:
            del kept[name]
    return kept
