"""Registration pages: the form, the mailbox link, asking for the link again, discarding.

All are public. None of them logs anyone in, and none tells whether an address already
has an account: the answer to a registration or to a request for a new link is the
same page whatever happened behind it.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language, gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from portal.http import client_ip

from ..access import public
from ..forms import MailboxConfirmForm, MailboxLinkResendForm, RegistrationForm
from ..services.registration import (
    LINKS_PER_OFFICER_PER_HOUR,
    MailboxLinkRefused,
    mailbox_link_officer,
    officer_mailbox_link_refuse,
    officer_mailbox_link_resend,
    officer_mailbox_password_check,
    officer_mailbox_verify,
    officer_register,
    registration_allowed,
)
from ..services.unconfirmed import NOT_ME, registration_discard

SENT = gettext_lazy(
    "We have sent a message to the address you gave. Follow the link in it to confirm "
    "that the mailbox is yours."
)
RESENT = gettext_lazy(
    "If an account with that address is waiting for its mailbox to be confirmed, we have "
    "sent it a new link. At most %(count)d links are sent per hour."
)


@public
@sensitive_post_parameters("password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Register an officer of a verified agency, or of an agency they propose."""
    if request.user.is_authenticated:
        messages.info(request, gettext("You already have an account and are logged in."))
        return HttpResponseRedirect(reverse("home"))
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        ip = client_ip(request)
        if not registration_allowed(ip=ip):
            form.add_error(
                None,
                gettext(
                    "Too many registrations came from your network in the last hour. Try later."
                ),
            )
        else:
            try:
                officer_register(**form.registration(), ip=ip, language=get_language() or "")
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, SENT)
                return HttpResponseRedirect(reverse("register-mailbox"))
    return render(
        request, "accounts/register.html", {"form": form}, status=400 if form.errors else 200
    )


@public
@never_cache
@require_http_methods(["GET", "POST"])
def mailbox_pending(request: HttpRequest) -> HttpResponse:
    """Tell a registered officer to confirm their mailbox; send the link again on request."""
    form = MailboxLinkResendForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        officer_mailbox_link_resend(email=form.cleaned_data["email"], ip=client_ip(request))
        messages.success(request, RESENT % {"count": LINKS_PER_OFFICER_PER_HOUR})
        return HttpResponseRedirect(reverse("register-mailbox"))
    return render(
        request,
        "accounts/register_mailbox.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _refused(request: HttpRequest, refusal: MailboxLinkRefused) -> HttpResponse:
    officer_mailbox_link_refuse(refusal=refusal, ip=client_ip(request))
    return render(request, "accounts/register_refused.html", {"reason": refusal.reason}, status=400)


@public
@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def mailbox_verify(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm a mailbox from the emailed link, with the password chosen at registration.

    Opening the link changes nothing (mail filters open links to scan them); the
    confirmation is a POST.
    """
    try:
        officer = mailbox_link_officer(token=token)
    except MailboxLinkRefused as refusal:
        return _refused(request, refusal)
    form = MailboxConfirmForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        problem = officer_mailbox_password_check(
            officer=officer, password=form.cleaned_data["password"], ip=client_ip(request)
        )
        if problem is not None:
            form.add_error("password", problem)
        else:
            try:
                officer_mailbox_verify(officer=officer)
            except MailboxLinkRefused as refusal:
                return _refused(request, refusal)
            return HttpResponseRedirect(reverse("mailbox-verified"))
    return render(
        request,
        "accounts/register_verify.html",
        {"form": form, "officer": officer, "token": token},
        status=400 if form.errors else 200,
    )


@public
@never_cache
@require_http_methods(["GET", "POST"])
def mailbox_discard(request: HttpRequest, token: str) -> HttpResponse:
    """Discard a registration from its emailed link: "this was not me".

    The link proves the mailbox, which is all its owner has: someone who registered
    their address holds the password, they do not. Opening the link changes nothing;
    the discard is a POST from the page, and the link dies with the registration.
    """
    try:
        officer = mailbox_link_officer(token=token)
    except MailboxLinkRefused as refusal:
        return _refused(request, refusal)
    if request.method == "POST":
        if not registration_discard(officer_id=officer.pk, reason=NOT_ME, ip=client_ip(request)):
            return _refused(request, MailboxLinkRefused("used", officer))
        return HttpResponseRedirect(reverse("register-discarded"))
    return render(request, "accounts/register_discard.html", {"officer": officer, "token": token})


@public
@require_GET
def registration_discarded(request: HttpRequest) -> HttpResponse:
    """Say that the registration is gone and the address is free."""
    return render(request, "accounts/register_discarded.html")


@public
@require_GET
def mailbox_verified(request: HttpRequest) -> HttpResponse:
    """What comes after the mailbox: log in, enrol second factors, wait for vetting."""
    return render(request, "accounts/register_verified.html")
