"""Enrolling second factors: a TOTP app with backup codes, and passkeys.

Changing factors (a passkey added or removed, a new app, new backup codes) needs a
second factor used in the last minutes (``accounts.step_up``): a user whose session
passed one longer ago confirms it is them again first. Every change is emailed.
"""

import base64
import io
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.i18n import JavaScriptCatalog
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.views import (
    BeginCredentialRegistrationView,
    CompleteCredentialRegistrationView,
)

from ..access import AuthedRequest, before_second_factor, onboarding, public
from ..services.factors import (
    MAX_REASON_LENGTH,
    FactorChange,
    FactorRefused,
    PasskeyHelper,
    backup_codes_generate,
    factor_change_notify,
    factor_summary,
    passkey_get_for_user,
    passkey_remove,
    passkeys_of_user,
    totp_confirm,
    totp_device_pending,
)
from ..services.keys import passkey_key_id, signing_passkeys_of_credentials
from ..step_up import FRESH_SECONDS, second_factor_fresh_mark, second_factor_is_fresh
from .auth import BoundedJSONMixin, _safe_next, second_factor_attempt, second_factor_page


def _step_up_redirect(request: AuthedRequest, next_url: str) -> HttpResponse | None:
    """Send a user who must confirm it is them before changing factors; ``None`` if not.

    A user without any factor (a new account setting up its first) has nothing to
    confirm with and nothing to protect yet.
    """
    if not factor_summary(user=request.user).any:
        return None
    query = "?" + urlencode({"next": next_url})
    if not request.user.is_verified():
        return HttpResponseRedirect(reverse("login-verify") + query)
    if not second_factor_is_fresh(request):
        return HttpResponseRedirect(reverse("factor-confirm") + query)
    return None


def totp_uri(device: TOTPDevice, account: str, issuer: str) -> str:
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    label = quote(f"{issuer}:{account}")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
        f"&algorithm=SHA1&digits={device.digits}&period={device.step}"
    )


def qr_svg(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


@before_second_factor
@onboarding
@never_cache
def factors(request: AuthedRequest) -> HttpResponse:
    """The user's second factors, and what is still missing."""
    if not request.user.is_verified() and factor_summary(user=request.user).any:
        return HttpResponseRedirect(reverse("login-verify") + "?next=" + reverse("factors"))
    summary = factor_summary(user=request.user)
    passkeys = passkeys_of_user(user=request.user)
    signing = signing_passkeys_of_credentials(credentials=passkeys)
    return render(
        request,
        "accounts/factors.html",
        {
            "summary": summary,
            "complete": summary.complete_for(request.user),
            "passkeys": [
                {"credential": credential, "signing": signing.get(credential.pk)}
                for credential in passkeys
            ],
        },
    )


@onboarding
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def factor_confirm(request: AuthedRequest) -> HttpResponse:
    """Ask a verified user for a second factor again before they change their factors.

    The same factors and the same lockout as the second step of login; a passkey is
    checked by the login's own passkey endpoints, which mark the session as fresh too.
    """
    user = request.user
    next_url = _safe_next(request)
    if second_factor_is_fresh(request):
        return HttpResponseRedirect(next_url)
    summary = factor_summary(user=user)
    passed, error = second_factor_attempt(request)
    if passed:
        return HttpResponseRedirect(next_url)
    return second_factor_page(
        request, summary=summary, error=error, step_up=True, fresh_minutes=FRESH_SECONDS // 60
    )


@before_second_factor
@onboarding
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def totp_enrol(request: AuthedRequest) -> HttpResponse:
    """Show a new TOTP secret as a QR code; confirm it with a code from the app."""
    from django.conf import settings

    step_up = _step_up_redirect(request, reverse("totp-enrol"))
    if step_up is not None:
        return step_up
    user = request.user
    device = totp_device_pending(user=user)
    error = ""
    if request.method == "POST":
        if totp_confirm(user=user, device=device, token=request.POST.get("code", "")):
            otp_login(request, device)
            request.session.cycle_key()
            second_factor_fresh_mark(request)  # the code from the new app was just used
            factor_change_notify(user=user, change=FactorChange.TOTP_ADDED)
            codes = backup_codes_generate(user=user, notify=False)
            return render(request, "accounts/backup_codes.html", {"codes": codes, "first": True})
        error = gettext(
            "That code is not right. Check the time on your phone and enter the newest code."
        )
    uri = totp_uri(device, user.email, settings.OTP_TOTP_ISSUER)
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return render(
        request,
        "accounts/totp_enrol.html",
        {
            "qr_svg": qr_svg(uri),
            "secret_groups": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "error": error,
        },
        status=400 if error else 200,
    )


@onboarding
@never_cache
@require_http_methods(["POST"])
def backup_codes_renew(request: AuthedRequest) -> HttpResponse:
    """Replace the backup codes; needs a second factor used in the last minutes."""
    step_up = _step_up_redirect(request, reverse("factors"))
    if step_up is not None:
        messages.info(request, gettext("Confirm it is you, then make the new backup codes."))
        return step_up
    codes = backup_codes_generate(user=request.user)
    messages.success(request, gettext("New backup codes were made; the old ones no longer work."))
    return render(request, "accounts/backup_codes.html", {"codes": codes, "first": False})


@before_second_factor
@onboarding
@never_cache
def passkey_enrol(request: AuthedRequest) -> HttpResponse:
    """Register a passkey (the WebAuthn ceremony runs in django-otp-webauthn's script)."""
    step_up = _step_up_redirect(request, reverse("passkey-enrol"))
    if step_up is not None:
        return step_up
    return render(request, "accounts/passkey_enrol.html")


class PasskeyRemoveForm(forms.Form):
    reason = forms.CharField(max_length=MAX_REASON_LENGTH, strip=True)


@onboarding
@never_cache
@require_http_methods(["GET", "POST"])
def passkey_remove_view(request: AuthedRequest, credential_pk: int) -> HttpResponse:
    """Remove one of the user's own passkeys, with a reason; another's is a 404."""
    credential = passkey_get_for_user(user=request.user, credential_pk=credential_pk)
    if credential is None:
        raise Http404
    step_up = _step_up_redirect(request, reverse("passkey-remove", args=[credential.pk]))
    if step_up is not None:
        return step_up
    form = PasskeyRemoveForm(request.POST if request.method == "POST" else None)
    refusal = ""
    if request.method == "POST" and form.is_valid():
        try:
            passkey_remove(
                user=request.user, credential=credential, reason=form.cleaned_data["reason"]
            )
        except FactorRefused as refused:
            refusal = refused.message
        else:
            messages.success(request, gettext("The passkey is removed. We emailed you about it."))
            return HttpResponseRedirect(reverse("factors"))
    signing = signing_passkeys_of_credentials(credentials=[credential]).get(credential.pk)
    return render(
        request,
        "accounts/passkey_remove.html",
        {
            "form": form,
            "credential": credential,
            "signing": signing,
            "key_id": passkey_key_id(bytes(credential.credential_id)),
            "refusal": refusal,
        },
        status=400 if form.errors or refusal else 200,
    )


class StepUpRequired(webauthn_errors.OTPWebAuthnApiError):
    status_code = 403
    default_code = "step_up_required"
    default_detail = gettext_lazy(
        "Confirm it is you first: reload this page and use your second factor again."
    )


class PasskeyRegistrationMixin(BoundedJSONMixin):
    """Registering a passkey. The package refuses a user who has a factor but did not use
    it in this session, so a stolen password alone cannot add the thief's passkey; the
    portal also wants that factor used in the last minutes, so an old session cannot."""

    request: AuthedRequest

    def get_helper(self) -> PasskeyHelper:
        return PasskeyHelper(request=self.request)

    def check_can_register(self) -> None:
        user = self.request.user
        if factor_summary(user=user).any and not second_factor_is_fresh(self.request):
            raise StepUpRequired()


class PasskeyRegistrationBeginView(PasskeyRegistrationMixin, BeginCredentialRegistrationView):
    """Send the creation options: a challenge, the portal as relying party, the user."""


class PasskeyRegistrationCompleteView(PasskeyRegistrationMixin, CompleteCredentialRegistrationView):
    """Check the new credential and save it with its audit event."""

    def post(self, *args, **kwargs):
        was_verified = self.request.user.is_verified()
        response = super().post(*args, **kwargs)
        if not was_verified and self.request.user.is_verified():
            # The first factor of a new account verifies the session (the package's
            # choice); give it a new id, as after the first TOTP code.
            self.request.session.cycle_key()
            second_factor_fresh_mark(self.request)
        return response


passkey_registration_begin = before_second_factor(PasskeyRegistrationBeginView.as_view())
passkey_registration_complete = before_second_factor(PasskeyRegistrationCompleteView.as_view())
# The package's scripts read their messages from this catalog: public, as the passkey page
# of an account-wide lock (accounts.views.auth.login_passkey) is shown before any login.
passkey_js_catalog = public(JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]))
