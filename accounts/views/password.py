"""Password pages: change it in a verified session; reset a forgotten one by mailbox link.

Django's forms and token views do the checking (the configured password validators,
the signed, expiring, single-use reset token); the services in
``accounts.services.password`` decide, audit and mail. None of these pages logs anyone
in: after a reset the user logs in with the new password and their second factor.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from portal.http import client_ip

from ..access import AuthedRequest, onboarding, public
from ..models import Role
from ..services.password import (
    RESET_LINKS_PER_ACCOUNT_PER_HOUR,
    PasswordResetLinkRefused,
    password_change,
    password_change_refuse,
    password_reset_address_allowed,
    password_reset_complete,
    password_reset_link_refuse,
    password_reset_request,
)
from ..services.throttle import lockout_seconds

STRENGTH_HINT = gettext_lazy(
    "At least 12 characters. Not a common password, not only digits, "
    "and not like your name or address."
)
CHANGED = gettext_lazy(
    "Your password is changed. You stay logged in here; every other session of your "
    "account has ended."
)
RESET_SENT = gettext_lazy(
    "If an account with that address exists, we have sent it a link to choose a new "
    "password. At most %(count)d links are sent per hour."
)
RESET_DONE = gettext_lazy("Your password is changed. Log in with it and your second factor.")


def _locked_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext(
        "Too many failed attempts. Try again in %(count)d minute.",
        "Too many failed attempts. Try again in %(count)d minutes.",
        minutes,
    ) % {"count": minutes}


class NewPasswordWording:
    """The portal's words for the new password fields of Django's forms."""

    fields: dict[str, forms.Field]

    def word_new_password(self) -> None:
        self.fields["new_password1"].help_text = STRENGTH_HINT
        self.fields["new_password2"].label = gettext("New password again")
        self.fields["new_password2"].help_text = ""


class NewPasswordForm(NewPasswordWording, SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.word_new_password()


class CurrentPasswordChangeForm(NewPasswordWording, PasswordChangeForm):
    error_messages = {
        **PasswordChangeForm.error_messages,
        "password_incorrect": gettext_lazy("That is not your current password."),
    }
    # Offered to officers, the only users with API tokens (removed for the others).
    revoke_tokens = forms.BooleanField(
        required=False,
        label=_("Also revoke all my API tokens"),
        help_text=_(
            "Do this if you change your password because someone else may know it: a "
            "token made with it keeps working otherwise. Your case systems then need new "
            "tokens."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = gettext("Current password")
        self.word_new_password()
        if getattr(self.user, "role", None) != Role.OFFICER:
            del self.fields["revoke_tokens"]


class PasswordResetRequestForm(forms.Form):
    email = forms.CharField(
        label=gettext_lazy("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
        help_text=gettext_lazy("The address you log in with."),
    )


@onboarding
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_change_view(request: AuthedRequest) -> HttpResponse:
    """Change the password: the current one, then the new one twice."""
    user = request.user
    ip = client_ip(request)
    form = CurrentPasswordChangeForm(user, request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST":
        # Checked before the current password is: a guess made during a lock proves nothing.
        locked = lockout_seconds(email=user.email, ip=ip)
        if not locked and form.is_valid():
            revoked = password_change(
                user=user,
                password=form.cleaned_data["new_password1"],
                ip=ip,
                revoke_tokens=bool(form.cleaned_data.get("revoke_tokens")),
            )
            update_session_auth_hash(request, user)  # this session stays; the others end
            messages.success(request, CHANGED)
            if revoked:
                messages.info(
                    request,
                    ngettext(
                        "%(count)d API token was revoked.",
                        "%(count)d API tokens were revoked.",
                        revoked,
                    )
                    % {"count": revoked},
                )
            return HttpResponseRedirect(reverse("factors"))
        if not locked and form.has_error("old_password", "password_incorrect"):
            locked = password_change_refuse(user=user, ip=ip)
        if locked:
            error = _locked_message(locked)
            form = CurrentPasswordChangeForm(user)  # unbound: nothing of the guess is checked
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "error": error},
        status=400 if request.method == "POST" else 200,
    )


@public
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_view(request: HttpRequest) -> HttpResponse:
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_valid():
        ip = client_ip(request)
        if password_reset_address_allowed(ip=ip):
            password_reset_request(email=form.cleaned_data["email"], ip=ip)
            messages.success(request, RESET_SENT % {"count": RESET_LINKS_PER_ACCOUNT_PER_HOUR})
            return HttpResponseRedirect(reverse("password-reset"))
        form.add_error(
            None,
            gettext("Too many reset requests came from your network in the last hour. Try later."),
        )
        status = 429
    elif form.errors:
        status = 400
    return render(request, "accounts/password_reset.html", {"form": form}, status=status)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choose a new password from the emailed link; Django checks the link's token.

    Django moves the token from the address into the session before showing the form,
    so it does not leak in a Referer header; opening the link changes nothing.
    """

    template_name = "accounts/password_reset_confirm.html"
    form_class = NewPasswordForm
    post_reset_login = False  # never: the second factor is still ahead
    success_url = reverse_lazy("login")

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if not self.validlink:
            password_reset_link_refuse(user=self.user, ip=client_ip(self.request))
            kwargs["status"] = 400
        return super().render_to_response(context, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        session = self.request.session
        try:
            if self.user is None:  # Django shows the form only for a link's own user
                raise PasswordResetLinkRefused
            password_reset_complete(
                user=self.user,
                token=session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN),
                password=form.cleaned_data["new_password1"],
                ip=client_ip(self.request),
            )
        except PasswordResetLinkRefused:  # the link was used meanwhile, by another request
            self.validlink = False
            return self.render_to_response(self.get_context_data())
        session.pop(auth_views.INTERNAL_RESET_SESSION_TOKEN, None)
        messages.success(self.request, RESET_DONE)
        return HttpResponseRedirect(self.get_success_url())


# Class-based views carry markers on the function that as_view() returns.
password_reset_confirm_view = public(PasswordResetConfirmView.as_view())
