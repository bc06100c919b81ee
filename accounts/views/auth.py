"""Logging in: password first, then a second factor (passkey, TOTP or backup code)."""

import logging
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_otp import login as otp_login
from django_otp_webauthn import exceptions as webauthn_errors
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    CompleteCredentialAuthenticationView,
)

from portal.audit import audit_append
from portal.http import client_ip
from portal.jsondepth import JSONTooDeep, json_depth_check

from ..access import AuthedRequest, before_second_factor, public
from ..domains import DomainError, canonical_email
from ..models import User
from ..services.factors import (
    FactorSummary,
    PasskeyHelper,
    factor_summary,
    passkey_check_owner,
    second_factor_check,
)
from ..services.registration import mailbox_unconfirmed
from ..services.throttle import (
    Lock,
    auth_failure_record,
    auth_locked_try_record,
    auth_second_factor_record,
    lockout_seconds,
    lockout_state,
)
from ..step_up import second_factor_fresh_mark

logger = logging.getLogger(__name__)


def _wait(seconds: int) -> str:
    """Say how long a lock lasts, rounded up to whole minutes."""
    minutes = max(1, (seconds + 59) // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _locked_message(seconds: int) -> str:
    return gettext("Too many failed attempts. Try again in %(wait)s.") % {"wait": _wait(seconds)}


def _second_factor_passed(request: HttpRequest, device: object, *, method: str) -> None:
    """Mark the session verified by ``device``, give it a new id, and audit the login."""
    otp_login(request, device)
    # A new session id once the second factor passed, as Django gives one at the password.
    request.session.cycle_key()
    second_factor_fresh_mark(request)  # a factor change within minutes needs no second ask
    auth_second_factor_record(user=request.user, method=method, ip=client_ip(request))


# Under an account-wide lock the passkey comes before the password (``login_passkey``):
# the session remembers the address typed, then the passkey that answered for it.
PASSKEY_FIRST_KEY = "portal_passkey_first"
PASSKEY_FIRST_SECONDS = 5 * 60


def _passkey_first(request: HttpRequest) -> dict[str, Any] | None:
    """The session's passkey-first login in progress, if it is recent enough."""
    pending = request.session.get(PASSKEY_FIRST_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("email"), str):
        return None
    started = pending.get("at")
    if not isinstance(started, int) or not 0 <= time.time() - started <= PASSKEY_FIRST_SECONDS:
        return None
    return pending


def _passkey_first_credential(request: HttpRequest, email: str) -> int | None:
    """The passkey that answered for ``email`` in this session before its password, if any."""
    pending = _passkey_first(request)
    if pending is None or pending["email"] != email:
        return None
    credential = pending.get("credential")
    return credential if isinstance(credential, int) else None


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing to check a password while the account is locked.

    Under the account-wide lock (failures from many addresses) the password is not
    checked either, but the page offers the passkey first: once the account's own passkey
    answered in this session, its password is checked again and the login is complete.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": gettext_lazy("Too many failed attempts. Try again in %(wait)s."),
        "account_locked": _(
            "Too many failed attempts on this account from many places. Try again in "
            "%(wait)s, or log in with your passkey now."
        ),
    }
    # The passkey that answered before the password, under an account-wide lock.
    passkey_credential: int | None = None

    def clean_username(self) -> str:
        # Addresses are stored with the domain in IDNA form: accept the Unicode form too.
        raw = self.cleaned_data["username"]
        try:
            return canonical_email(raw)
        except DomainError:
            return raw.strip().lower()

    def clean(self):
        email = (self.cleaned_data.get("username") or "").strip().lower()
        ip = client_ip(self.request) if self.request else None
        # The locks a passkey does not lift: this account from this address, this address.
        lock = lockout_state(email=email, ip=ip, passkey=True)
        if not lock and self.request is not None:
            self.passkey_credential = _passkey_first_credential(self.request, email)
            if self.passkey_credential is None:
                lock = lockout_state(email=email, ip=ip)
        if lock:
            user = User.objects.filter(email=email).first()
            auth_locked_try_record(
                kind="password", email=email, ip=ip, seconds=lock.seconds, user=user
            )
            if lock.scope == "account" and self.request is not None:
                self.request.session[PASSKEY_FIRST_KEY] = {"email": email, "at": int(time.time())}
            raise self.get_locked_error(lock)
        try:
            return super().clean()
        except ValidationError:
            user = User.objects.filter(email=email).first()
            if (
                user is not None
                and mailbox_unconfirmed(user=user)
                and user.check_password(self.cleaned_data.get("password") or "")
            ):
                raise ValidationError(
                    gettext("Confirm your mailbox first: follow the link we emailed you."),
                    code="mailbox_unverified",
                ) from None
            locked = auth_failure_record(kind="password", email=email, ip=ip, user=user)
            if locked:
                raise self.get_locked_error(Lock(locked)) from None
            raise

    def get_locked_error(self, lock: Lock) -> ValidationError:
        message = self.error_messages["account_locked" if lock.scope == "account" else "locked"]
        return ValidationError(message, code="locked", params={"wait": _wait(lock.seconds)})


@method_decorator(public, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = False

    def form_valid(self, form):
        super().form_valid(form)  # django's login(): the session id rotates
        user = form.get_user()
        audit_append(
            actor=user,
            action="auth.password_ok",
            target=user,
            data={"ip": client_ip(self.request)},
        )
        next_url = self.get_redirect_url()
        self.request.session.pop(PASSKEY_FIRST_KEY, None)
        passkey = (
            WebAuthnCredential.objects.filter(
                pk=form.passkey_credential, user=user, confirmed=True
            ).first()
            if form.passkey_credential is not None
            else None
        )
        if passkey is not None:
            # The passkey answered first, under the account-wide lock: both steps passed.
            _second_factor_passed(self.request, passkey, method="passkey")
            return HttpResponseRedirect(next_url or reverse("home"))
        target = "login-verify" if factor_summary(user=user).any else "factors"
        url = reverse(target)
        if next_url:
            url += "?" + urlencode({"next": next_url})
        return HttpResponseRedirect(url)

    def form_invalid(self, form):
        if form.has_error(NON_FIELD_ERRORS, "mailbox_unverified"):
            messages.warning(self.request, form.non_field_errors()[0])
            return HttpResponseRedirect(reverse("register-mailbox"))
        return super().form_invalid(form)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context.get("form")
        # A lock says how long it lasts; any other failure stays vague on purpose.
        if form is not None and form.has_error(NON_FIELD_ERRORS, "locked"):
            context["error_text"] = form.non_field_errors()[0]
        pending = _passkey_first(self.request)
        if pending is not None:
            context["passkey_first"] = "credential" not in pending
            context["passkey_confirmed"] = "credential" in pending
            context["passkey_first_email"] = pending["email"]
        return context


# Class-based views carry markers on the function that as_view() returns.
login_view = public(LoginView.as_view())


@public
@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out on POST; a GET only asks, since following a link must not end a session."""
    from django.contrib.auth import logout

    if request.method == "GET":
        return render(request, "accounts/logout.html")
    if request.user.is_authenticated:
        audit_append(actor=request.user, action="auth.logout", target=request.user)
    logout(request)
    messages.success(request, gettext("You have logged out."))
    return HttpResponseRedirect(reverse("login"))


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


def _second_factor_locked_try(*, user: User, ip: str | None, seconds: int, method: str) -> None:
    """Audit a second factor offered while the account or address is locked (not checked)."""
    auth_locked_try_record(
        kind="second_factor", email=user.email, ip=ip, seconds=seconds, user=user, method=method
    )


def second_factor_attempt(request: AuthedRequest) -> tuple[bool, str]:
    """Check a posted TOTP or backup code under the lockout: (passed, error to show).

    The lock is checked before any code is (a guess made during a lock proves nothing, and
    is audited); a wrong code counts towards it. Used by login's second step and by the
    step-up before a factor changes, so both hold the same line.
    """
    user = request.user
    ip = client_ip(request)
    locked = lockout_seconds(email=user.email, ip=ip)
    method = request.POST.get("method", "")
    named_method = method if method in ("totp", "backup") else ""
    if request.method != "POST":
        return False, _locked_message(locked) if locked else ""
    if locked:
        _second_factor_locked_try(user=user, ip=ip, seconds=locked, method=named_method)
        return False, _locked_message(locked)
    device = second_factor_check(user=user, method=method, token=request.POST.get("code", ""))
    if device is not None:
        _second_factor_passed(request, device, method=method)
        return True, ""
    locked = auth_failure_record(
        kind="second_factor", email=user.email, ip=ip, user=user, method=named_method
    )
    if locked:
        return False, _locked_message(locked)
    return False, gettext("That code is not right, or it was already used. Try the next code.")


@before_second_factor
@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request: AuthedRequest) -> HttpResponse:
    """The second step of login: a passkey, a code from the app, or a backup code."""
    user = request.user
    if user.is_verified():
        return HttpResponseRedirect(_safe_next(request))
    summary = factor_summary(user=user)
    if not summary.any:
        return HttpResponseRedirect(reverse("factors"))

    passed, error = second_factor_attempt(request)
    if passed:
        return HttpResponseRedirect(_safe_next(request))
    return second_factor_page(request, summary=summary, error=error)


def second_factor_page(
    request: AuthedRequest, *, summary: FactorSummary, error: str, **extra: object
) -> HttpResponse:
    """The page that asks for a second factor (login's second step, or the step-up)."""
    return render(
        request,
        "accounts/login_verify.html",
        {
            "summary": summary,
            "has_passkey": summary.passkeys > 0,
            "error": error,
            "next": _safe_next(request),
            **extra,
        },
        status=400 if error and request.method == "POST" else 200,
    )


class PasskeyLockedOut(webauthn_errors.OTPWebAuthnApiError):
    status_code = 429
    default_code = "locked_out"
    default_detail = gettext_lazy("Too many failed attempts. Try again later.")


class BoundedJSONMixin:
    """The package's JSON reading, refusing a body nested too deep before it is parsed.

    ``json.loads`` would recurse into it and fail with ``RecursionError`` (a 500).
    """

    def _parse_request_data(self, request: HttpRequest) -> Any:
        if (request.content_type or "").split(";", 1)[0] == "application/json" and request.body:
            try:
                json_depth_check(request.body)
            except JSONTooDeep as exc:
                logger.warning("Passkey request rejected: %s (%s)", exc, request.path)
                raise webauthn_errors.MalformedRequest() from None
        return super()._parse_request_data(request)  # type: ignore[misc]


class PasskeyVerificationMixin(BoundedJSONMixin):
    """The passkey step of login: only for the user who already gave the password."""

    # The standing middleware lets only a logged-in user reach these views.
    request: AuthedRequest

    def get_helper(self) -> PasskeyHelper:
        return PasskeyHelper(request=self.request)

    def check_can_authenticate(self) -> None:
        user = self.request.user
        if not user.is_authenticated:
            # Never a passkey alone, whatever OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN says.
            raise webauthn_errors.PasswordlessLoginDisabled()
        if not user.is_active:
            raise webauthn_errors.UserDisabled()


class PasskeyVerificationBeginView(PasskeyVerificationMixin, BeginCredentialAuthenticationView):
    """Send the challenge and the logged-in user's own credential ids."""


class PasskeyVerificationCompleteView(
    PasskeyVerificationMixin, CompleteCredentialAuthenticationView
):
    """Check the signed challenge; a failure counts towards the lockout like a wrong code.

    The lock is checked here rather than at the beginning: the package's script shows
    the detail of a refused completion to the user, but not of a refused beginning.
    """

    # Refusals that say nothing about a guess: the caller was locked out, or not logged in.
    not_counted = (
        PasskeyLockedOut,
        webauthn_errors.PasswordlessLoginDisabled,
        webauthn_errors.UserDisabled,
    )

    def check_can_authenticate(self) -> None:
        super().check_can_authenticate()
        user = self.request.user
        ip = client_ip(self.request)
        # A passkey cannot be guessed: the account-wide lock does not stop it.
        locked = lockout_seconds(email=user.email, ip=ip, passkey=True)
        if locked:
            _second_factor_locked_try(user=user, ip=ip, seconds=locked, method="passkey")
            raise PasskeyLockedOut(detail=_locked_message(locked))

    def handle_exception(self, exc: Exception):
        user = self.request.user
        if (
            isinstance(exc, webauthn_errors.OTPWebAuthnApiError)
            and not isinstance(exc, self.not_counted)
            and user.is_authenticated
        ):
            locked = auth_failure_record(
                kind="second_factor",
                email=user.email,
                ip=client_ip(self.request),
                user=user,
                method="passkey",
            )
            if locked:
                exc = PasskeyLockedOut(detail=_locked_message(locked))
        return super().handle_exception(exc)

    def complete_auth(self, device: WebAuthnCredential) -> None:
        passkey_check_owner(user=self.request.user, credential=device)
        _second_factor_passed(self.request, device, method="passkey")


passkey_verification_begin = before_second_factor(PasskeyVerificationBeginView.as_view())
passkey_verification_complete = before_second_factor(PasskeyVerificationCompleteView.as_view())


# --- Under an account-wide lock: the passkey first, then the password ------------------------


@public
@never_cache
@require_GET
def login_passkey(request: HttpRequest) -> HttpResponse:
    """Ask for the passkey of the address the login page found locked everywhere.

    Only a session that was just told of an account-wide lock comes here; the password
    follows on the login page once the passkey answered.
    """
    pending = _passkey_first(request)
    if pending is None or request.user.is_authenticated:
        return HttpResponseRedirect(reverse("login"))
    configuration = get_configuration(
        request,
        {
            "beginAuthenticationUrl": reverse("login-passkey-begin"),
            "completeAuthenticationUrl": reverse("login-passkey-complete"),
        },
    )
    return render(
        request,
        "accounts/login_passkey.html",
        {"configuration": configuration, "email": pending["email"], "next": _safe_next(request)},
    )


class PasskeyFirstMixin(BoundedJSONMixin):
    """The passkey of the locked account, asked before its password (nobody is logged in)."""

    request: HttpRequest

    def get_helper(self) -> PasskeyHelper:
        return PasskeyHelper(request=self.request)

    def pending_email(self) -> str | None:
        pending = _passkey_first(self.request)
        return pending["email"] if pending is not None else None

    def get_user(self) -> User | None:
        email = self.pending_email()
        return User.objects.filter(email=email, is_active=True).first() if email else None

    def check_can_authenticate(self) -> None:
        email = self.pending_email()
        if email is None or self.request.user.is_authenticated:
            raise webauthn_errors.PasswordlessLoginDisabled()
        ip = client_ip(self.request)
        locked = lockout_seconds(email=email, ip=ip, passkey=True)
        if locked:
            auth_locked_try_record(
                kind="second_factor",
                email=email,
                ip=ip,
                seconds=locked,
                user=self.get_user(),
                method="passkey",
            )
            raise PasskeyLockedOut(detail=_locked_message(locked))


class PasskeyFirstBeginView(PasskeyFirstMixin, BeginCredentialAuthenticationView):
    """Send a challenge for the locked account's own passkeys."""


class PasskeyFirstCompleteView(PasskeyFirstMixin, CompleteCredentialAuthenticationView):
    """Check the passkey; remember it for the password that comes next. Logs nobody in."""

    not_counted = PasskeyVerificationCompleteView.not_counted

    def handle_exception(self, exc: Exception):
        email = self.pending_email()
        if (
            isinstance(exc, webauthn_errors.OTPWebAuthnApiError)
            and not isinstance(exc, self.not_counted)
            and email is not None
        ):
            locked = auth_failure_record(
                kind="second_factor",
                email=email,
                ip=client_ip(self.request),
                user=self.get_user(),
                method="passkey",
            )
            if locked:
                exc = PasskeyLockedOut(detail=_locked_message(locked))
        return super().handle_exception(exc)

    def complete_auth(self, device: WebAuthnCredential) -> None:
        user = self.get_user()
        if user is None:
            raise webauthn_errors.CredentialUserMismatch()
        passkey_check_owner(user=user, credential=device)
        pending = _passkey_first(self.request) or {}
        self.request.session[PASSKEY_FIRST_KEY] = {
            **pending,
            "credential": device.pk,
            "at": int(time.time()),
        }
        audit_append(
            actor=user,
            action="auth.passkey_before_password",
            target=user,
            data={"ip": client_ip(self.request), "credential": device.pk},
        )

    def get_success_url(self) -> str:
        next_url = self.get_redirect_url()
        return reverse("login") + ("?" + urlencode({"next": next_url}) if next_url else "")


login_passkey_begin = public(PasskeyFirstBeginView.as_view())
login_passkey_complete = public(PasskeyFirstCompleteView.as_view())
