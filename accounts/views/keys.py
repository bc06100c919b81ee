"""An officer's own keys: Ed25519 signing keys, signing passkeys and age recipients.

Open only to active officers of verified agencies with a verified second factor (the
standing middleware checks that before any view here runs). Every key is reached through
the services' ``*_get_for_officer``: another officer's key is a 404.
"""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from portal import crypto

from ..access import AuthedRequest, page_officer, role_required
from ..models import AgeRecipient, Role, SigningKey
from ..services.keys import (
    MAX_LABEL_LENGTH,
    MAX_REASON_LENGTH,
    REVOCABLE,
    KeyNotFound,
    KeyOrigin,
    KeyRefused,
    age_recipient_enrol,
    age_recipient_get_for_officer,
    age_recipient_revoke,
    age_recipients_of_officer,
    signing_key_enrol,
    signing_key_get_for_officer,
    signing_key_revoke,
    signing_keys_of_officer,
    signing_passkeys_of_officer,
)

# The text fields take more than any key needs, so that a pasted private key or identity
# file meets portal.crypto's "this is secret" refusal rather than a length error.
PASTE_MAX_LENGTH = 4 * crypto.MAX_PEM_LENGTH


class SigningKeyForm(forms.Form):
    label = forms.CharField(max_length=MAX_LABEL_LENGTH, required=False, strip=True)
    public_key = forms.CharField(max_length=PASTE_MAX_LENGTH, strip=True)


class AgeRecipientForm(forms.Form):
    label = forms.CharField(max_length=MAX_LABEL_LENGTH, required=False, strip=True)
    recipient = forms.CharField(max_length=PASTE_MAX_LENGTH, strip=True)
    origin = forms.ChoiceField(
        choices=[(o.value, o.value) for o in KeyOrigin], required=False, initial=KeyOrigin.PASTED
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, strip=True)


def _scrub_secret(form: forms.Form, field: str) -> None:
    """Never send pasted secret key material back to the page (or a cache, or a log)."""
    if isinstance(form.data, QueryDict) and crypto.looks_like_secret_key(form.data.get(field, "")):
        scrubbed = form.data.copy()
        scrubbed[field] = ""
        form.data = scrubbed


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["GET"])
def keys_overview(request: AuthedRequest) -> HttpResponse:
    """List the officer's signing keys, passkeys and age recipients with their fingerprints."""
    officer = page_officer(request)
    signing_keys = [
        {"key": key, "fingerprint": crypto.fingerprint_groups(key.key_id)}
        for key in signing_keys_of_officer(officer=officer).select_related("revoked_by")
    ]
    passkeys = [
        {"key": key, "fingerprint": crypto.fingerprint_groups(key.public_key_sha256)}
        for key in signing_passkeys_of_officer(officer=officer).select_related(
            "revoked_by", "credential"
        )
    ]
    recipients = list(age_recipients_of_officer(officer=officer).select_related("revoked_by"))
    return render(
        request,
        "accounts/keys/overview.html",
        {
            "officer": officer,
            "signing_keys": signing_keys,
            "passkeys": passkeys,
            "recipients": recipients,
            "revocable": [str(s) for s in REVOCABLE],
        },
    )


@role_required(Role.OFFICER)
@sensitive_post_parameters("public_key")
@never_cache
@require_http_methods(["GET", "POST"])
def signing_key_add(request: AuthedRequest) -> HttpResponse:
    """Paste a PEM Ed25519 public key; it waits for approval."""
    officer = page_officer(request)
    form = SigningKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key = signing_key_enrol(
                officer=officer,
                actor=request.user,
                public_key_pem=form.cleaned_data["public_key"],
                label=form.cleaned_data["label"],
            )
        except KeyRefused as refusal:
            form.add_error(refusal.field or None, refusal.message)
        else:
            messages.success(
                request,
                gettext(
                    "Key %(key_id)s was enrolled. It can sign requests once an administrator "
                    "has compared its fingerprint with you and approved it."
                )
                % {"key_id": key.key_id},
            )
            return HttpResponseRedirect(reverse("keys"))
    _scrub_secret(form, "public_key")
    return render(
        request,
        "accounts/keys/signing_key_add.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@role_required(Role.OFFICER)
@sensitive_post_parameters("recipient")
@never_cache
@require_http_methods(["GET", "POST"])
def age_recipient_add(request: AuthedRequest) -> HttpResponse:
    """Paste an age recipient, or generate a key pair in the browser (identity stays there)."""
    officer = page_officer(request)
    form = AgeRecipientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            recipient = age_recipient_enrol(
                officer=officer,
                actor=request.user,
                recipient=form.cleaned_data["recipient"],
                label=form.cleaned_data["label"],
                origin=KeyOrigin(form.cleaned_data["origin"] or KeyOrigin.PASTED),
            )
        except KeyRefused as refusal:
            form.add_error(refusal.field or None, refusal.message)
        else:
            messages.success(
                request,
                gettext(
                    "Recipient %(recipient)s was enrolled. Responses are sealed to it "
                    "once an administrator has approved it."
                )
                % {"recipient": recipient.recipient},
            )
            return HttpResponseRedirect(reverse("keys"))
    _scrub_secret(form, "recipient")
    return render(
        request,
        "accounts/keys/age_recipient_add.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _revoke_page(
    request: AuthedRequest,
    *,
    form: RevokeForm,
    kind: str,
    key: SigningKey | AgeRecipient,
    shown_id: str,
    fingerprint: str,
) -> HttpResponse:
    return render(
        request,
        "accounts/keys/revoke.html",
        {
            "form": form,
            "kind": kind,
            "key": key,
            "shown_id": shown_id,
            "fingerprint": fingerprint,
            "revocable": key.status in REVOCABLE,
        },
        status=400 if form.errors else 200,
    )


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["GET", "POST"])
def signing_key_revoke_view(request: AuthedRequest, key_pk: int) -> HttpResponse:
    """Revoke one of the officer's own signing keys, with a reason."""
    officer = page_officer(request)
    try:
        key = signing_key_get_for_officer(officer=officer, key_pk=key_pk)
    except KeyNotFound:
        raise Http404 from None
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            signing_key_revoke(key=key, actor=request.user, reason=form.cleaned_data["reason"])
        except KeyRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request, gettext("Key %(key_id)s is revoked.") % {"key_id": key.key_id}
            )
            return HttpResponseRedirect(reverse("keys"))
    return _revoke_page(
        request,
        form=form,
        kind="signing key",
        key=key,
        shown_id=key.key_id,
        fingerprint=crypto.fingerprint_groups(key.key_id),
    )


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["GET", "POST"])
def age_recipient_revoke_view(request: AuthedRequest, recipient_pk: int) -> HttpResponse:
    """Revoke one of the officer's own age recipients, with a reason."""
    officer = page_officer(request)
    try:
        recipient = age_recipient_get_for_officer(officer=officer, recipient_pk=recipient_pk)
    except KeyNotFound:
        raise Http404 from None
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            age_recipient_revoke(
                recipient=recipient, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except KeyRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(
                request,
                gettext("Recipient %(recipient)s is revoked.") % {"recipient": recipient.recipient},
            )
            return HttpResponseRedirect(reverse("keys"))
    return _revoke_page(
        request,
        form=form,
        kind="age recipient",
        key=recipient,
        shown_id=recipient.recipient,
        fingerprint="",
    )
