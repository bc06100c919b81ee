"""An agency supervisor's pages about the agency's people and keys (``/agency/``).

Thin views: ``accounts.supervision`` reads and cuts everything to the supervisor's agency
(another agency's officer, key or token is a 404), ``accounts.services.supervision``
acts. Each act goes through a confirmation page that asks for the reason kept in the
audit log, so none needs JavaScript. The agency's requests are in
``requests_app.supervisor``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from portal.forms import form_errors

from ..access import AuthedRequest, role_required
from ..models import AgeRecipient, KeyStatus, Officer, Role, SigningKey, SigningPasskey
from ..selectors import confirmed_callback
from ..services.supervision import (
    NOTE_MAX_LENGTH,
    SupervisionRefused,
    agency_key_revoke,
    agency_token_revoke,
    officer_reinstatement_ask,
    officer_suspend_by_supervisor,
    officer_vouch,
)
from ..services.vetting import REASON_MAX_LENGTH
from ..supervision import (
    agency_keys,
    agency_officers,
    key_get_for_supervisor,
    officer_get_for_supervisor,
    page_supervisor,
    reinstatement_asked_at,
    token_get_for_supervisor,
    vouched_ids,
)

supervisor_only = role_required(Role.SUPERVISOR)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "Kept in the audit log and sent to the platform's vetting team. Say what happened."
        ),
    )


class VouchForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I confirm that this person works for our agency under the name, title and badge "
            "number shown, with the address shown"
        ),
        required=True,
    )
    note = forms.CharField(
        label=gettext_lazy("Note for the platform"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Optional: their unit, since when they work there."),
    )


@dataclass(frozen=True)
class Confirmation:
    title: str
    subject: str
    consequences: list[str]
    button: str
    danger: bool
    cancel_url: str


def _confirm(
    request: AuthedRequest,
    confirm: Confirmation,
    form: forms.Form,
    *,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/supervision/confirm.html",
        {"confirm": confirm, "form": form, "errors": errors or []},
        status=status,
    )


def _decide(
    request: AuthedRequest,
    confirm: Confirmation,
    *,
    form_class: type[forms.Form],
    run: Any,
    done: str,
    done_url: str,
) -> HttpResponse:
    """GET: the confirmation page. POST: act, or show why not (nothing is stored then)."""
    if request.method != "POST":
        return _confirm(request, confirm, form_class())
    form = form_class(request.POST)
    if not form.is_valid():
        return _confirm(request, confirm, form, errors=form_errors(form), status=400)
    try:
        run(form.cleaned_data)
    except SupervisionRefused as refused:
        return _confirm(request, confirm, form, errors=[("", refused.message)], status=409)
    messages.success(request, done)
    return HttpResponseRedirect(done_url)


# --- Officers ----------------------------------------------------------------------------


@supervisor_only
@never_cache
@require_GET
def officers(request: AuthedRequest) -> HttpResponse:
    """The agency's officers: registrations to vouch for, active officers, suspended ones."""
    supervisor = page_supervisor(request)
    everyone = list(agency_officers(supervisor=supervisor))
    mine = vouched_ids(supervisor=supervisor)
    own_call = confirmed_callback(agency=supervisor.agency, officer=supervisor)
    return render(
        request,
        "accounts/supervision/officers.html",
        {
            "supervisor": supervisor,
            # Until when the supervisor's word replaces the platform's call about a newcomer.
            "vouches_count_until": (
                own_call.called_at + timedelta(days=settings.SUPERVISOR_VOUCH_CALLBACK_DAYS)
                if own_call is not None
                else None
            ),
            "waiting": [
                {"officer": o, "vouched": o.pk in mine}
                for o in everyone
                if o.status == Officer.Status.PENDING
            ],
            "active": [o for o in everyone if o.status == Officer.Status.ACTIVE],
            "suspended": [
                {"officer": o, "asked_at": reinstatement_asked_at(officer=o)}
                for o in everyone
                if o.status == Officer.Status.SUSPENDED
            ],
        },
    )


def _who(officer: Officer) -> str:
    return (
        f"{officer.user.full_name}, {officer.title} ({officer.badge_number}), {officer.user.email}"
    )


@dataclass(frozen=True)
class OfficerAct:
    """An act on an officer of the agency, in the words of its confirmation page (``title``
    and ``done`` name the officer as ``%(name)s``), and the service that does it: called
    with the officer, the supervisor, and the form's ``field`` under the same name."""

    title: str | Promise
    consequences: tuple[str | Promise, ...]
    button: str | Promise
    done: str | Promise
    service: Callable[..., object]
    danger: bool = False
    field: str = "reason"
    form_class: type[forms.Form] = ReasonForm


# The acts of the officers' page, by the last part of their address (urls_supervision).
OFFICER_ACTS: dict[str, OfficerAct] = {
    "suspend": OfficerAct(
        title=gettext_lazy("Suspend %(name)s?"),
        consequences=(
            gettext_lazy("They are logged out at their next page or API call, and cannot log in."),
            gettext_lazy("Every API token of theirs is revoked now."),
            gettext_lazy(
                "The platform's vetting team is told at once. Only the platform reinstates."
            ),
        ),
        button=gettext_lazy("Suspend now"),
        done=gettext_lazy("%(name)s is suspended; the platform was told."),
        service=officer_suspend_by_supervisor,
        danger=True,
    ),
    "reinstatement": OfficerAct(
        title=gettext_lazy("Ask the platform to reinstate %(name)s?"),
        consequences=(
            gettext_lazy("The platform's vetting team is asked by email, with your reason."),
            gettext_lazy("They decide, and may call your agency's number on file first."),
        ),
        button=gettext_lazy("Ask to reinstate"),
        done=gettext_lazy("The platform is asked to reinstate %(name)s."),
        service=officer_reinstatement_ask,
    ),
    "vouch": OfficerAct(
        title=gettext_lazy("Vouch for %(name)s?"),
        consequences=(
            gettext_lazy(
                "The platform's vetting team sees that you vouched, and when. While your own "
                "callback is recent, your word replaces a call to your agency about them."
            ),
            gettext_lazy("The platform still approves the registration."),
        ),
        button=gettext_lazy("Vouch for them"),
        done=gettext_lazy("You vouched for %(name)s."),
        service=officer_vouch,
        field="note",
        form_class=VouchForm,
    ),
}


@supervisor_only
@never_cache
@require_http_methods(["GET", "POST"])
def officer_act(request: AuthedRequest, officer_id: int, act: str) -> HttpResponse:
    """Suspend an officer of the agency, ask the platform to reinstate one, or vouch for a
    registration waiting for vetting: a confirmation page, then the act (``OFFICER_ACTS``).
    Another agency's officer is a 404."""
    supervisor = page_supervisor(request)
    officer = officer_get_for_supervisor(supervisor=supervisor, officer_id=officer_id)
    chosen = OFFICER_ACTS[act]
    named = {"name": officer.user.full_name}
    officers_url = reverse("supervisor-officers")
    confirm = Confirmation(
        title=str(chosen.title) % named,
        subject=_who(officer),
        consequences=[str(consequence) for consequence in chosen.consequences],
        button=str(chosen.button),
        danger=chosen.danger,
        cancel_url=officers_url,
    )
    return _decide(
        request,
        confirm,
        form_class=chosen.form_class,
        run=lambda data: chosen.service(
            officer=officer, actor=request.user, **{chosen.field: data[chosen.field]}
        ),
        done=str(chosen.done) % named,
        done_url=officers_url,
    )


# --- Keys and tokens -----------------------------------------------------------------------

KEY_MODELS: dict[str, type[SigningKey | SigningPasskey | AgeRecipient]] = {
    "signing-keys": SigningKey,
    "signing-passkeys": SigningPasskey,
    "age-recipients": AgeRecipient,
}


@supervisor_only
@never_cache
@require_GET
def keys(request: AuthedRequest) -> HttpResponse:
    """Every signing key, passkey, age recipient and API token of the agency."""
    supervisor = page_supervisor(request)
    return render(
        request,
        "accounts/supervision/keys.html",
        {"supervisor": supervisor, "keys": agency_keys(supervisor=supervisor)},
    )


def _key_name(key: SigningKey | SigningPasskey | AgeRecipient) -> str:
    return key.recipient if isinstance(key, AgeRecipient) else key.key_id


def _key_owner(key: SigningKey | SigningPasskey | AgeRecipient) -> str:
    if key.officer is not None:
        return key.officer.user.full_name
    return _("the agency")


@supervisor_only
@never_cache
@require_http_methods(["GET", "POST"])
def key_revoke(request: AuthedRequest, kinds: str, key_id: int) -> HttpResponse:
    """Revoke a pending or active key of the agency, with a reason, after confirmation."""
    supervisor = page_supervisor(request)
    key = key_get_for_supervisor(supervisor=supervisor, model=KEY_MODELS[kinds], key_id=key_id)
    if key.status not in (KeyStatus.PENDING, KeyStatus.ACTIVE):
        messages.error(
            request,
            _("This key is %(status)s: there is nothing to revoke.")
            % {"status": key.get_status_display().lower()},
        )
        return HttpResponseRedirect(reverse("supervisor-keys"))
    confirm = Confirmation(
        title=_("Revoke this key of %(owner)s?") % {"owner": _key_owner(key)},
        subject=_key_name(key),
        consequences=[
            _(
                "It stops counting at once: nothing signed with it is accepted, and no "
                "response is sealed to it."
            ),
            _(
                "It is kept on record, never deleted. Only a new key, approved by the "
                "platform, replaces it."
            ),
        ],
        button=_("Revoke the key"),
        danger=True,
        cancel_url=reverse("supervisor-keys"),
    )
    return _decide(
        request,
        confirm,
        form_class=ReasonForm,
        run=lambda data: agency_key_revoke(key=key, actor=request.user, reason=data["reason"]),
        done=_("The key is revoked."),
        done_url=reverse("supervisor-keys"),
    )


@supervisor_only
@never_cache
@require_http_methods(["GET", "POST"])
def token_revoke(request: AuthedRequest, token_id: int) -> HttpResponse:
    """Revoke an API token of an officer of the agency, with a reason, after confirmation."""
    supervisor = page_supervisor(request)
    token = token_get_for_supervisor(supervisor=supervisor, token_id=token_id)
    confirm = Confirmation(
        title=_("Revoke the API token of %(owner)s?") % {"owner": token.officer.user.full_name},
        subject=f"{token.name} ({token.prefix}…)",
        consequences=[_("The case system using it is refused from its next call.")],
        button=_("Revoke the token"),
        danger=True,
        cancel_url=reverse("supervisor-keys"),
    )
    return _decide(
        request,
        confirm,
        form_class=ReasonForm,
        run=lambda data: agency_token_revoke(
            token=token, actor=request.user, reason=data["reason"]
        ),
        done=_("The token is revoked."),
        done_url=reverse("supervisor-keys"),
    )
