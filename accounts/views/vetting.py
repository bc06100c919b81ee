"""Vetting pages for platform administrators: the queue, the evidence, the decisions.

Thin views: the selectors gather evidence and decide who may see it, the services in
``accounts.services.vetting`` take every decision. Destructive decisions (reject,
suspend, revoke, a new callback number) go through a confirmation page that also asks
for the reason, so they need no JavaScript.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.crypto import fingerprint_groups
from portal.forms import form_errors

from ..access import AuthedRequest, role_required
from ..models import Agency, AgeRecipient, CallbackCheck, Officer, Role, SigningKey, SigningPasskey
from ..phones import international
from ..selectors import (
    age_recipient_get_for_vetting,
    agency_evidence,
    agency_get_for_vetting,
    first_passkey_pending,
    key_call_evidence,
    key_owner_problems,
    number_needs_source,
    officer_evidence,
    officer_get_for_vetting,
    signing_key_get_for_vetting,
    signing_passkey_get_for_vetting,
    vetting_queue,
)
from ..services import vetting as services
from ..services.vetting import (
    AGENCY_TRANSITIONS,
    KEY_TRANSITIONS,
    OFFICER_TRANSITIONS,
    REASON_MAX_LENGTH,
    VettingRefused,
    actions_allowed,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
else:
    StrOrPromise = str

vetting_admin = role_required(Role.VETTING_ADMIN)


# --- Forms (labels and hints only; the services hold the rules) -----------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Kept in the audit log. Say what you found and where."),
    )


class OfficerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.user.full_name}, {obj.title} ({obj.get_status_display().lower()})"


class CallbackForm(forms.Form):
    """A call to the agency. For an agency never verified, the number dialled and its source.

    ``needs_source``: the agency's number on file came with its proposal, so the form asks
    for the number the administrator found independently and where
    (``selectors.number_needs_source``); otherwise the number on file is called and the
    form has no number field at all. ``officers``: whom the call may be about (the agency
    page); ``outcomes``: the outcomes to offer (all by default).
    """

    number = forms.CharField(
        label=_("The number you called"),
        max_length=32,
        help_text=_("In international form with the country code, such as +49 30 123456."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel", "type": "tel"}),
    )
    number_source = forms.CharField(
        label=_("Where you found that number"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "A source independent of the registration: the agency's official website "
            "(with its address) or a government directory. Kept with the call."
        ),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome of the call"),
        choices=CallbackCheck.Outcome.choices,
        widget=forms.RadioSelect,
    )
    officer = OfficerChoiceField(
        label=_("About which officer"),
        queryset=Officer.objects.none(),
        required=False,
        empty_label=_("The agency itself"),
        help_text=_("Choose the officer whose employment the agency confirmed, if any."),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who answered, their role, and what they confirmed."),
    )

    def __init__(
        self,
        *args: Any,
        officers: Any = None,
        needs_source: bool = False,
        outcomes: list[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if officers is None:
            del self.fields["officer"]
        else:
            officer_field = cast(OfficerChoiceField, self.fields["officer"])
            officer_field.queryset = officers.select_related("user")
        if not needs_source:
            del self.fields["number"]
            del self.fields["number_source"]
        if outcomes is not None:
            cast(forms.ChoiceField, self.fields["outcome"]).choices = outcomes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned.setdefault("officer", None)
        cleaned.setdefault("number", "")
        cleaned.setdefault("number_source", "")
        return cleaned


# A key's call that confirmed the fingerprint is recorded by approving the key.
CALL_NOT_CONFIRMED: list[tuple[str, Any]] = [
    (CallbackCheck.Outcome.NOT_CONFIRMED, _("The fingerprint was not confirmed")),
    (CallbackCheck.Outcome.NO_ANSWER, _("No answer")),
]


class CallbackNumberForm(ReasonForm):
    number = forms.CharField(
        label=_("New callback number"),
        max_length=32,
        help_text=_("International form with the country code, such as +49 30 123456."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel", "type": "tel"}),
    )
    field_order = ["number", "reason"]


class FingerprintForm(forms.Form):
    fingerprint_confirmed = forms.BooleanField(
        label=_(
            "I read every group of the fingerprint with the owner on the phone, "
            "and all of them matched"
        ),
        required=True,
    )
    note = forms.CharField(
        label=_("Note on the call"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Who put you through, and who read the fingerprint."),
    )


class OfficerApproveForm(forms.Form):
    """Approve the officer; with the first passkey too, when its fingerprint was compared.

    ``passkey`` names the passkey whose fingerprint the page showed, so that a passkey
    registered after the page was read is never approved by this form.
    """

    passkey = forms.IntegerField(required=False, widget=forms.HiddenInput)
    passkey_fingerprint_confirmed = forms.BooleanField(
        label=_(
            "On the same call, the officer read out every group of their passkey's "
            "fingerprint, and all matched: approve the passkey too"
        ),
        required=False,
    )


# --- The queue ------------------------------------------------------------------------


@vetting_admin
@never_cache
@require_GET
def queue(request: AuthedRequest) -> HttpResponse:
    """Everything waiting for a decision, oldest first."""
    return render(
        request, "accounts/vetting/queue.html", {"queue": vetting_queue(user=request.user)}
    )


# --- Agencies --------------------------------------------------------------------------


def _agency_callback_form(agency: Agency, data: Any = None) -> CallbackForm:
    return CallbackForm(
        data,
        officers=agency.officers.all(),
        needs_source=number_needs_source(agency=agency),
    )


def _agency_page(
    request: AuthedRequest,
    agency: Agency,
    *,
    callback_form: CallbackForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/vetting/agency.html",
        {
            "agency": agency,
            "evidence": agency_evidence(agency=agency),
            "actions": actions_allowed(AGENCY_TRANSITIONS, agency.status),
            "callback_form": callback_form or _agency_callback_form(agency),
            "errors": errors or [],
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_GET
def agency_detail(request: AuthedRequest, agency_id: int) -> HttpResponse:
    """All the evidence about one agency, and the decisions open to it."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    return _agency_page(request, agency)


def _call_recorded(number: str) -> str:
    return gettext("The call to %(number)s was recorded.") % {"number": international(number)}


@vetting_admin
@never_cache
@require_POST
def agency_callback(request: AuthedRequest, agency_id: int) -> HttpResponse:
    """Record a call to the agency: to its number on file, or, for an agency never verified,
    to a number found independently, with its source (``services.callback_record``)."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    form = _agency_callback_form(agency, request.POST)
    if not form.is_valid():
        return _agency_page(
            request, agency, callback_form=form, errors=form_errors(form), status=400
        )
    try:
        callback = services.callback_record(
            agency=agency,
            actor=request.user,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            officer=form.cleaned_data["officer"],
            number=form.cleaned_data["number"],
            number_source=form.cleaned_data["number_source"],
        )
    except VettingRefused as refused:
        return _agency_page(
            request, agency, callback_form=form, errors=_refusal(refused), status=409
        )
    messages.success(request, _call_recorded(callback.number_called))
    return HttpResponseRedirect(reverse("vetting-agency", args=[agency.pk]) + "#callbacks")


@vetting_admin
@never_cache
@require_POST
def agency_verify(request: AuthedRequest, agency_id: int) -> HttpResponse:
    """Verify a pending agency (the service checks the callback rule)."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    try:
        services.agency_verify(agency=agency, actor=request.user)
    except VettingRefused as refused:
        return _agency_page(request, agency, errors=_refusal(refused), status=409)
    messages.success(request, gettext("%(name)s is verified.") % {"name": agency.name})
    return HttpResponseRedirect(reverse("vetting-agency", args=[agency.pk]))


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def agency_callback_number(request: AuthedRequest, agency_id: int) -> HttpResponse:
    """Put a new callback number on file, after confirmation; earlier calls stop counting."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    form = CallbackNumberForm(request.POST if request.method == "POST" else None)
    confirm = Confirmation(
        title=gettext("Change the callback number of %(agency)s") % {"agency": agency.name},
        subject=gettext("Number on file now: %(number)s")
        % {"number": international(agency.callback_phone)},
        consequences=[
            gettext(
                "Every callback recorded so far stops counting for verifying the agency and "
                "for approving its officers, even if the number is later changed back."
            ),
            gettext(
                "Take the new number only from an independent official source, never from "
                "the person asking for the change."
            ),
        ],
        button=gettext("Change the number"),
        danger=True,
        cancel_url=reverse("vetting-agency", args=[agency.pk]),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.agency_callback_number_change(
                agency=agency,
                actor=request.user,
                number=form.cleaned_data["number"],
                reason=form.cleaned_data["reason"],
            )
        except VettingRefused as refused:
            return _confirm_page(request, confirm, form, _refusal(refused), status=409)
        messages.success(request, gettext("The callback number was changed; call the new number."))
        return HttpResponseRedirect(reverse("vetting-agency", args=[agency.pk]))
    errors = form_errors(form) if request.method == "POST" else []
    return _confirm_page(request, confirm, form, errors, status=400 if errors else 200)


AGENCY_DECISIONS: dict[
    str, tuple[Callable[..., Agency], StrOrPromise, list[StrOrPromise], StrOrPromise]
] = {
    # action: (service, button, consequences, message on success)
    "reject": (
        services.agency_reject,
        gettext_lazy("Reject the agency"),
        [
            gettext_lazy("The agency will never be verified; its officers cannot log in."),
            gettext_lazy("This cannot be undone from the vetting pages."),
        ],
        gettext_lazy("%(name)s was rejected."),
    ),
    "suspend": (
        services.agency_suspend,
        gettext_lazy("Suspend the agency"),
        [
            gettext_lazy("Every officer of the agency is logged out at their next request."),
            gettext_lazy(
                "Every API token of its officers is revoked now; they will need new ones."
            ),
            gettext_lazy("No request from the agency is accepted until it is reinstated."),
        ],
        gettext_lazy(
            "%(name)s is suspended. Its officers are logged out and their tokens revoked."
        ),
    ),
    "reinstate": (
        services.agency_reinstate,
        gettext_lazy("Reinstate the agency"),
        [
            gettext_lazy("Its active officers can log in and submit again."),
            gettext_lazy("This needs a confirmed callback to the number on file."),
        ],
        gettext_lazy("%(name)s is reinstated."),
    ),
}


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def agency_decide(request: AuthedRequest, agency_id: int, action: str) -> HttpResponse:
    """Reject, suspend or reinstate an agency, with a reason, after confirmation."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    service, button, consequences, done = AGENCY_DECISIONS[action]
    confirm = Confirmation(
        title=f"{button}?",
        subject=f"{agency.name} ({agency.get_country_display()}), "
        f"{agency.get_status_display().lower()}",
        consequences=consequences,
        button=button,
        danger=action != "reinstate",
        cancel_url=reverse("vetting-agency", args=[agency.pk]),
    )
    return _reason_decision(
        request,
        confirm,
        run=lambda reason: service(agency=agency, actor=request.user, reason=reason),
        done_message=done % {"name": agency.name},
        done_url=reverse("vetting-agency", args=[agency.pk]),
    )


# --- Officers --------------------------------------------------------------------------


def _officer_callback_form(officer: Officer, data: Any = None) -> CallbackForm:
    return CallbackForm(
        data, officers=None, needs_source=number_needs_source(agency=officer.agency)
    )


def _officer_page(
    request: AuthedRequest,
    officer: Officer,
    *,
    callback_form: CallbackForm | None = None,
    approve_form: OfficerApproveForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    evidence = officer_evidence(officer=officer)
    first = evidence.first_passkey
    return render(
        request,
        "accounts/vetting/officer.html",
        {
            "officer": officer,
            "evidence": evidence,
            "actions": actions_allowed(OFFICER_TRANSITIONS, officer.status),
            "vouch_days": settings.SUPERVISOR_VOUCH_CALLBACK_DAYS,
            "callback_form": callback_form or _officer_callback_form(officer),
            "approve_form": approve_form
            or OfficerApproveForm(initial={"passkey": first.pk if first else None}),
            "first_passkey_fingerprint": (
                fingerprint_groups(first.public_key_sha256).split() if first else []
            ),
            "errors": errors or [],
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_GET
def officer_detail(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """All the evidence about one officer, and the decisions open to them."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    return _officer_page(request, officer)


@vetting_admin
@never_cache
@require_POST
def officer_callback(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """Record a call to the officer's agency about this officer."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    form = _officer_callback_form(officer, request.POST)
    if not form.is_valid():
        return _officer_page(
            request, officer, callback_form=form, errors=form_errors(form), status=400
        )
    try:
        callback = services.callback_record(
            agency=officer.agency,
            actor=request.user,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            officer=officer,
            number=form.cleaned_data["number"],
            number_source=form.cleaned_data["number_source"],
        )
    except VettingRefused as refused:
        return _officer_page(
            request, officer, callback_form=form, errors=_refusal(refused), status=409
        )
    messages.success(request, _call_recorded(callback.number_called))
    return HttpResponseRedirect(reverse("vetting-officer", args=[officer.pk]) + "#callbacks")


@vetting_admin
@never_cache
@require_POST
def officer_approve(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """Approve a pending officer, and their first passkey with them if it was compared.

    The passkey is the one the page showed (its id travels with the form): if the officer
    registered another meanwhile, nothing is approved and the page shows the new state.
    """
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    form = OfficerApproveForm(request.POST)
    if not form.is_valid():
        return _officer_page(
            request, officer, approve_form=form, errors=form_errors(form), status=400
        )
    passkey = None
    if form.cleaned_data["passkey_fingerprint_confirmed"]:
        passkey = first_passkey_pending(officer=officer)
        if passkey is None or passkey.pk != form.cleaned_data["passkey"]:
            refused = VettingRefused(
                gettext(
                    "The officer's passkeys changed since this page was read: nothing was "
                    "approved. Compare the fingerprint shown now."
                )
            )
            return _officer_page(request, officer, errors=_refusal(refused), status=409)
    try:
        services.officer_approve(officer=officer, actor=request.user, passkey=passkey)
    except VettingRefused as refused:
        return _officer_page(
            request, officer, approve_form=form, errors=_refusal(refused), status=409
        )
    done = (
        gettext("%(name)s and their passkey are approved; they were told by email.")
        if passkey is not None
        else gettext("%(name)s is approved and was told by email.")
    )
    messages.success(request, done % {"name": officer.user.full_name})
    return HttpResponseRedirect(reverse("vetting-officer", args=[officer.pk]))


OFFICER_DECISIONS: dict[
    str, tuple[Callable[..., Officer], StrOrPromise, list[StrOrPromise], StrOrPromise]
] = {
    "reject": (
        services.officer_reject,
        gettext_lazy("Reject the officer"),
        [
            gettext_lazy("The officer cannot log in any more."),
            gettext_lazy(
                "They are told by email that their registration was not approved, "
                "without the reason."
            ),
        ],
        gettext_lazy("%(name)s was rejected and told by email."),
    ),
    "suspend": (
        services.officer_suspend,
        gettext_lazy("Suspend the officer"),
        [
            gettext_lazy("The officer is logged out at their next request."),
            gettext_lazy("Every API token of the officer is revoked now; they will need new ones."),
        ],
        gettext_lazy("%(name)s is suspended, logged out and their tokens revoked."),
    ),
    "reinstate": (
        services.officer_reinstate,
        gettext_lazy("Reinstate the officer"),
        [
            gettext_lazy("The officer can log in and submit again."),
            gettext_lazy("The same checks as for approving apply, including a confirmed callback."),
        ],
        gettext_lazy("%(name)s is reinstated."),
    ),
}


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def officer_decide(request: AuthedRequest, officer_id: int, action: str) -> HttpResponse:
    """Reject, suspend or reinstate an officer, with a reason, after confirmation."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    service, button, consequences, done = OFFICER_DECISIONS[action]
    confirm = Confirmation(
        title=f"{button}?",
        subject=(
            f"{officer.user.full_name}, {officer.title}, {officer.agency.name} "
            f"({officer.get_status_display().lower()})"
        ),
        consequences=consequences,
        button=button,
        danger=action != "reinstate",
        cancel_url=reverse("vetting-officer", args=[officer.pk]),
    )
    return _reason_decision(
        request,
        confirm,
        run=lambda reason: service(officer=officer, actor=request.user, reason=reason),
        done_message=done % {"name": officer.user.full_name},
        done_url=reverse("vetting-officer", args=[officer.pk]),
    )


# --- Agency supervisors -------------------------------------------------------------------


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def officer_supervisor_propose(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """Propose an officer as their agency's supervisor, with a reason, after confirmation."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    confirm = Confirmation(
        title=gettext("Propose %(name)s as supervisor?") % {"name": officer.user.full_name},
        subject=f"{officer.user.full_name}, {officer.title}, {officer.agency.name}",
        consequences=[
            gettext(
                "A supervisor sees every request of the agency, suspends its officers, "
                "vouches for new ones and revokes their keys and tokens."
            ),
            gettext(
                "Before you appoint them, call the agency's number on file and record the call "
                "about this officer: the agency must confirm that they supervise its officers."
            ),
        ],
        button=gettext("Propose as supervisor"),
        danger=False,
        cancel_url=reverse("vetting-officer", args=[officer.pk]),
    )
    return _reason_decision(
        request,
        confirm,
        run=lambda reason: services.supervisor_propose(
            officer=officer, actor=request.user, reason=reason
        ),
        done_message=gettext("%(name)s is proposed as supervisor. Call the agency to confirm.")
        % {"name": officer.user.full_name},
        done_url=reverse("vetting-officer", args=[officer.pk]) + "#supervisor",
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def officer_supervisor_withdraw(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """Drop a proposal to make an officer supervisor, with a reason."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    confirm = Confirmation(
        title=gettext("Withdraw the proposal?"),
        subject=f"{officer.user.full_name}, {officer.title}, {officer.agency.name}",
        consequences=[gettext("They stay an officer of the agency.")],
        button=gettext("Withdraw the proposal"),
        danger=True,
        cancel_url=reverse("vetting-officer", args=[officer.pk]),
    )
    return _reason_decision(
        request,
        confirm,
        run=lambda reason: services.supervisor_proposal_withdraw(
            officer=officer, actor=request.user, reason=reason
        ),
        done_message=gettext("The proposal is withdrawn."),
        done_url=reverse("vetting-officer", args=[officer.pk]),
    )


@vetting_admin
@never_cache
@require_POST
def officer_supervisor_appoint(request: AuthedRequest, officer_id: int) -> HttpResponse:
    """Appoint a proposed officer supervisor (the service checks the callback rule)."""
    officer = officer_get_for_vetting(user=request.user, officer_id=officer_id)
    try:
        services.supervisor_appoint(officer=officer, actor=request.user)
    except VettingRefused as refused:
        return _officer_page(request, officer, errors=_refusal(refused), status=409)
    messages.success(
        request,
        _("%(name)s is now the supervisor of %(agency)s and was told by email.")
        % {"name": officer.user.full_name, "agency": officer.agency.name},
    )
    return HttpResponseRedirect(reverse("vetting-officer", args=[officer.pk]))


# --- Keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyKind:
    """What differs between the pages of signing keys, signing passkeys and age recipients."""

    name: str
    url_name: str
    get: Callable[..., Any]
    approve: Callable[..., Any]
    reject: Callable[..., Any]
    revoke: Callable[..., Any]
    argument: str


SIGNING_KEY = KeyKind(
    name="signing key",
    url_name="vetting-signing-key",
    get=lambda user, pk: signing_key_get_for_vetting(user=user, key_id=pk),
    approve=services.signing_key_approve,
    reject=services.signing_key_reject,
    revoke=services.signing_key_revoke,
    argument="key",
)
SIGNING_PASSKEY = KeyKind(
    name="passkey",
    url_name="vetting-signing-passkey",
    get=lambda user, pk: signing_passkey_get_for_vetting(user=user, key_id=pk),
    approve=services.signing_passkey_approve,
    reject=services.signing_passkey_reject,
    revoke=services.signing_passkey_revoke,
    argument="key",
)
AGE_RECIPIENT = KeyKind(
    name="age recipient",
    url_name="vetting-age-recipient",
    get=lambda user, pk: age_recipient_get_for_vetting(user=user, recipient_id=pk),
    approve=services.age_recipient_approve,
    reject=services.age_recipient_reject,
    revoke=services.age_recipient_revoke,
    argument="recipient",
)
KEY_KINDS = {
    "signing-keys": SIGNING_KEY,
    "signing-passkeys": SIGNING_PASSKEY,
    "age-recipients": AGE_RECIPIENT,
}

AnyKey = SigningKey | SigningPasskey | AgeRecipient


def _identifier(key: AnyKey) -> str:
    return key.recipient if isinstance(key, AgeRecipient) else key.key_id


def _fingerprint(key: AnyKey) -> list[str]:
    """The groups an administrator reads out: a passkey's are of its public key's hash."""
    if isinstance(key, SigningPasskey):
        return fingerprint_groups(key.public_key_sha256).split()
    return fingerprint_groups(_identifier(key)).split()


def _key_call_form(data: Any = None) -> CallbackForm:
    return CallbackForm(data, officers=None, outcomes=CALL_NOT_CONFIRMED)


def _key_page(
    request: AuthedRequest,
    kind: KeyKind,
    key: AnyKey,
    *,
    form: FingerprintForm | None = None,
    call_form: CallbackForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/vetting/key.html",
        {
            "kind": kind,
            "key": key,
            "is_signing_key": isinstance(key, SigningKey),
            "is_passkey": isinstance(key, SigningPasskey),
            "identifier": _identifier(key),
            "fingerprint": _fingerprint(key),
            "owner_problems": key_owner_problems(
                officer=key.officer, agency=getattr(key, "agency", None)
            ),
            "calls": key_call_evidence(key=key),
            "actions": actions_allowed(KEY_TRANSITIONS, key.status),
            "form": form or FingerprintForm(),
            "call_form": call_form or _key_call_form(),
            "errors": errors or [],
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_GET
def key_detail(request: AuthedRequest, kinds: str, key_id: int) -> HttpResponse:
    """One signing key or age recipient, with its fingerprint for comparing by phone."""
    kind = KEY_KINDS[kinds]
    return _key_page(request, kind, kind.get(request.user, key_id))


@vetting_admin
@never_cache
@require_POST
def key_approve(request: AuthedRequest, kinds: str, key_id: int) -> HttpResponse:
    """Approve a pending key once its fingerprint was compared with its owner on a call to
    the agency's number on file; the approval records that call in the agency's history."""
    kind = KEY_KINDS[kinds]
    key = kind.get(request.user, key_id)
    form = FingerprintForm(request.POST)
    if not form.is_valid():
        return _key_page(request, kind, key, form=form, errors=form_errors(form), status=400)
    try:
        kind.approve(
            **{kind.argument: key},
            actor=request.user,
            fingerprint_confirmed=form.cleaned_data["fingerprint_confirmed"],
            note=form.cleaned_data["note"],
        )
    except VettingRefused as refused:
        return _key_page(request, kind, key, form=form, errors=_refusal(refused), status=409)
    messages.success(request, KEY_APPROVED[kind.url_name])
    return HttpResponseRedirect(reverse(kind.url_name, args=[key.pk]))


@vetting_admin
@never_cache
@require_POST
def key_callback(request: AuthedRequest, kinds: str, key_id: int) -> HttpResponse:
    """Record a call about a key that did not confirm its fingerprint (no answer, or a
    mismatch): it goes to the agency's callback history like every call."""
    kind = KEY_KINDS[kinds]
    key = kind.get(request.user, key_id)
    form = _key_call_form(request.POST)
    if not form.is_valid():
        return _key_page(request, kind, key, call_form=form, errors=form_errors(form), status=400)
    agency = key_call_evidence(key=key).agency
    try:
        callback = services.callback_record(
            agency=agency,
            actor=request.user,
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
            key=key,
        )
    except VettingRefused as refused:
        return _key_page(request, kind, key, call_form=form, errors=_refusal(refused), status=409)
    messages.success(request, _call_recorded(callback.number_called))
    return HttpResponseRedirect(reverse(kind.url_name, args=[key.pk]) + "#calls")


KEY_APPROVED: dict[str, StrOrPromise] = {
    "vetting-signing-key": gettext_lazy("The signing key is approved."),
    "vetting-signing-passkey": gettext_lazy("The passkey is approved."),
    "vetting-age-recipient": gettext_lazy("The age recipient is approved."),
}

# (kind's url_name, action): (button, message once done)
KEY_DECISION_WORDS: dict[tuple[str, str], tuple[StrOrPromise, StrOrPromise]] = {
    ("vetting-signing-key", "reject"): (
        gettext_lazy("Reject the signing key"),
        gettext_lazy("The signing key was rejected."),
    ),
    ("vetting-signing-key", "revoke"): (
        gettext_lazy("Revoke the signing key"),
        gettext_lazy("The signing key was revoked."),
    ),
    ("vetting-signing-passkey", "reject"): (
        gettext_lazy("Reject the passkey"),
        gettext_lazy("The passkey was rejected."),
    ),
    ("vetting-signing-passkey", "revoke"): (
        gettext_lazy("Revoke the passkey"),
        gettext_lazy("The passkey was revoked."),
    ),
    ("vetting-age-recipient", "reject"): (
        gettext_lazy("Reject the age recipient"),
        gettext_lazy("The age recipient was rejected."),
    ),
    ("vetting-age-recipient", "revoke"): (
        gettext_lazy("Revoke the age recipient"),
        gettext_lazy("The age recipient was revoked."),
    ),
}

KEY_DECISIONS: dict[str, list[StrOrPromise]] = {
    "reject": [gettext_lazy("It never becomes active. It is kept for the record.")],
    "revoke": [
        gettext_lazy(
            "It stops counting at once: no submission signed with it is accepted and no "
            "response is sealed to it."
        ),
        gettext_lazy(
            "It is kept for the record (never deleted), so earlier signatures stay verifiable."
        ),
    ],
}


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def key_decide(request: AuthedRequest, kinds: str, key_id: int, action: str) -> HttpResponse:
    """Reject a pending key or revoke an active one, with a reason, after confirmation."""
    kind = KEY_KINDS[kinds]
    key = kind.get(request.user, key_id)
    consequences = KEY_DECISIONS[action]
    button, done = KEY_DECISION_WORDS[(kind.url_name, action)]
    identifier = _identifier(key)
    service = kind.reject if action == "reject" else kind.revoke
    confirm = Confirmation(
        title=gettext("%(action)s?") % {"action": button},
        subject=f"{identifier} ({key.get_status_display().lower()})",
        consequences=consequences,
        button=button,
        danger=True,
        cancel_url=reverse(kind.url_name, args=[key.pk]),
    )
    return _reason_decision(
        request,
        confirm,
        run=lambda reason: service(**{kind.argument: key}, actor=request.user, reason=reason),
        done_message=str(done),
        done_url=reverse(kind.url_name, args=[key.pk]),
    )


# --- Confirmation pages ----------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    title: StrOrPromise
    subject: str
    consequences: list[StrOrPromise]
    button: StrOrPromise
    danger: bool
    cancel_url: str


def _confirm_page(
    request: AuthedRequest,
    confirm: Confirmation,
    form: forms.Form,
    errors: list[tuple[str, str]],
    *,
    status: int,
) -> HttpResponse:
    return render(
        request,
        "accounts/vetting/confirm.html",
        {"confirm": confirm, "form": form, "errors": errors, "reason_max": REASON_MAX_LENGTH},
        status=status,
    )


def _reason_decision(
    request: AuthedRequest,
    confirm: Confirmation,
    *,
    run: Callable[[str], object],
    done_message: str,
    done_url: str,
) -> HttpResponse:
    """GET: ask for confirmation and a reason. POST: decide, or show why not."""
    if request.method != "POST":
        return _confirm_page(request, confirm, ReasonForm(), [], status=200)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _confirm_page(request, confirm, form, form_errors(form), status=400)
    try:
        run(form.cleaned_data["reason"])
    except VettingRefused as refused:
        return _confirm_page(request, confirm, form, _refusal(refused), status=409)
    messages.success(request, done_message)
    return HttpResponseRedirect(done_url)


def _refusal(refused: VettingRefused) -> list[tuple[str, str]]:
    return [("", problem) for problem in refused.problems]
