"""Enrolling second factors: a TOTP app with backup codes, and passkeys."""

import base64
import io
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.i18n import JavaScriptCatalog
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.views import (
    BeginCredentialRegistrationView,
    CompleteCredentialRegistrationView,
)

from ..access import AuthedRequest, before_second_factor, onboarding
from ..services.factors import (
    PasskeyHelper,
    backup_codes_generate,
    factor_summary,
    totp_confirm,
    totp_device_pending,
)


def _needs_verification_first(request: AuthedRequest) -> bool:
    """A user who already has a factor must use it before changing factors."""
    return not request.user.is_verified() and factor_summary(user=request.user).any


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
    if _needs_verification_first(request):
        return HttpResponseRedirect(reverse("login-verify") + "?next=" + reverse("factors"))
    summary = factor_summary(user=request.user)
    return render(
        request,
        "accounts/factors.html",
        {
            "summary": summary,
            "complete": summary.complete_for(request.user),
            "passkeys": WebAuthnCredential.objects.filter(user=request.user, confirmed=True),
        },
    )


@before_second_factor
@onboarding
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def totp_enrol(request: AuthedRequest) -> HttpResponse:
    """Show a new TOTP secret as a QR code; confirm it with a code from the app."""
    from django.conf import settings

    if _needs_verification_first(request):
        return HttpResponseRedirect(reverse("login-verify") + "?next=" + reverse("totp-enrol"))
    user = request.user
    device = totp_device_pending(user=user)
    error = ""
    if request.method == "POST":
        if totp_confirm(user=user, device=device, token=request.POST.get("code", "")):
            otp_login(request, device)
            request.session.cycle_key()
            codes = backup_codes_generate(user=user)
            return render(request, "accounts/backup_codes.html", {"codes": codes, "first": True})
        error = "That code is not right. Check the time on your phone and enter the newest code."
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
    codes = backup_codes_generate(user=request.user)
    messages.success(request, "New backup codes were made; the old ones no longer work.")
    return render(request, "accounts/backup_codes.html", {"codes": codes, "first": False})


@before_second_factor
@onboarding
@never_cache
def passkey_enrol(request: AuthedRequest) -> HttpResponse:
    """Register a passkey (the WebAuthn ceremony runs in django-otp-webauthn's script)."""
    if _needs_verification_first(request):
        return HttpResponseRedirect(reverse("login-verify") + "?next=" + reverse("passkey-enrol"))
    return render(request, "accounts/passkey_enrol.html")


class PasskeyRegistrationMixin:
    """Registering a passkey. The package refuses a user who has a factor but did not use
    it in this session, so a stolen password alone cannot add the thief's passkey."""

    request: AuthedRequest

    def get_helper(self) -> PasskeyHelper:
        return PasskeyHelper(request=self.request)


class PasskeyRegistrationBeginView(PasskeyRegistrationMixin, BeginCredentialRegistrationView):
    """Send the creation options: a challenge, the portal as relying party, the user."""


class PasskeyRegistrationCompleteView(PasskeyRegistrationMixin, CompleteCredentialRegistrationView):
    """Check the new credential and save it with its audit event."""

    def post(self, *args, **kwargs):
        was_verified = self.request.user.is_verified()
        response = super().post(*args, **kwargs)
        if not was_verified:
            # The first factor of a new account verifies the session (the package's
            # choice); give it a new id, as after the first TOTP code.
            self.request.session.cycle_key()
        return response


passkey_registration_begin = before_second_factor(PasskeyRegistrationBeginView.as_view())
passkey_registration_complete = before_second_factor(PasskeyRegistrationCompleteView.as_view())
# The package's scripts read their messages from this catalog.
passkey_js_catalog = before_second_factor(
    JavaScriptCatalog.as_view(packages=["django_otp_webauthn"])
)
