"""The official email domains of one agency, for vetting administrators.

Thin views over ``accounts.services.agencies``: list the domains, add one, and, after a
confirmation page that names the officers the change would leave off every domain,
remove one or change whether its subdomains are accepted. Every change needs a reason.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.forms import form_errors

from ..access import AuthedRequest, role_required
from ..domains import agency_domain_get_for_vetting
from ..models import Agency, AgencyDomain, Officer, Role
from ..selectors import agency_get_for_vetting
from ..services.agencies import (
    agency_domain_add,
    agency_domain_remove,
    agency_domain_subdomains_set,
    domain_change_stranded,
)
from ..services.vetting import REASON_MAX_LENGTH, VettingRefused

vetting_admin = role_required(Role.VETTING_ADMIN)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Kept in the audit log. Say where you confirmed this (an official source)."
        ),
    )


class DomainAddForm(ReasonForm):
    domain = forms.CharField(
        label=gettext_lazy("Domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "The part after the @ of the agency's addresses, such as police.example."
        ),
    )
    allow_subdomains = forms.BooleanField(
        label=gettext_lazy("Also accept addresses on any subdomain of this domain"), required=False
    )
    field_order = ["domain", "allow_subdomains", "reason"]


def _domains_url(agency: Agency) -> str:
    return reverse("vetting-agency-domains", args=[agency.pk])


def _domains_page(
    request: AuthedRequest,
    agency: Agency,
    *,
    form: DomainAddForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "accounts/vetting/agency_domains.html",
        {
            "agency": agency,
            "domains": list(agency.domains.all()),
            "form": form or DomainAddForm(),
            "errors": errors or [],
        },
        status=status,
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def agency_domains(request: AuthedRequest, agency_id: int) -> HttpResponse:
    """List an agency's official domains; POST adds one."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    if request.method != "POST":
        return _domains_page(request, agency)
    form = DomainAddForm(request.POST)
    if not form.is_valid():
        return _domains_page(request, agency, form=form, errors=form_errors(form), status=400)
    try:
        added = agency_domain_add(
            agency=agency,
            actor=request.user,
            domain=form.cleaned_data["domain"],
            allow_subdomains=form.cleaned_data["allow_subdomains"],
            reason=form.cleaned_data["reason"],
        )
    except VettingRefused as refused:
        errors = [("id_domain", problem) for problem in refused.problems]
        return _domains_page(request, agency, form=form, errors=errors, status=409)
    messages.success(
        request,
        gettext("%(domain)s is now an official domain of %(agency)s.")
        % {"domain": added.domain, "agency": agency.name},
    )
    return HttpResponseRedirect(_domains_url(agency))


@dataclass(frozen=True)
class DomainChange:
    """What a confirmation page for one domain change says and does."""

    title: str
    consequences: list[str]
    button: str
    done: str
    # For a change of the subdomain setting: the setting asked for, "1" or "0".
    allow: str = ""


def _domain_change_page(
    request: AuthedRequest,
    agency: Agency,
    official: AgencyDomain,
    change: DomainChange,
    stranded: list[Officer],
    form: ReasonForm,
    errors: list[tuple[str, str]],
    status: int,
) -> HttpResponse:
    return render(
        request,
        "accounts/vetting/agency_domain_change.html",
        {
            "agency": agency,
            "official": official,
            "change": change,
            "stranded": stranded,
            "form": form,
            "errors": errors,
            "cancel_url": _domains_url(agency),
        },
        status=status,
    )


def _removal(official: AgencyDomain) -> DomainChange:
    return DomainChange(
        title=gettext("Remove %(domain)s?") % {"domain": official.domain},
        consequences=[
            gettext(
                "New registrations with an address at %(domain)s are refused, unless "
                "another of the agency's domains covers it."
            )
            % {"domain": official.domain},
            gettext(
                "Officers already registered keep their accounts: decide about each one listed "
                "below on their own page."
            ),
        ],
        button=gettext("Remove the domain"),
        done=gettext("%(domain)s was removed.") % {"domain": official.domain},
    )


def _subdomains_change(official: AgencyDomain, allow: bool) -> DomainChange:
    if allow:
        return DomainChange(
            title=gettext("Accept the subdomains of %(domain)s?") % {"domain": official.domain},
            consequences=[
                gettext(
                    "Addresses on any subdomain of %(domain)s (such as name@unit.%(domain)s) "
                    "can register for this agency, unless another agency holds that subdomain "
                    "itself."
                )
                % {"domain": official.domain},
            ],
            button=gettext("Accept subdomains"),
            done=gettext("Subdomains of %(domain)s are now accepted.")
            % {"domain": official.domain},
            allow="1",
        )
    return DomainChange(
        title=gettext("Stop accepting the subdomains of %(domain)s?") % {"domain": official.domain},
        consequences=[
            gettext("Only addresses exactly at %(domain)s match it from now on.")
            % {"domain": official.domain},
            gettext(
                "Officers already registered keep their accounts: decide about each one listed "
                "below on their own page."
            ),
        ],
        button=gettext("Stop accepting subdomains"),
        done=gettext("Subdomains of %(domain)s are no longer accepted.")
        % {"domain": official.domain},
        allow="0",
    )


def _domain_change_answer(
    request: AuthedRequest,
    agency: Agency,
    official: AgencyDomain,
    change: DomainChange,
    stranded: list[Officer],
    *,
    apply: Callable[[str], object],
) -> HttpResponse:
    """The confirmation page of a domain change; on a valid POST, ``apply`` it with the reason."""
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            apply(form.cleaned_data["reason"])
        except VettingRefused as refused:
            errors = [("", problem) for problem in refused.problems]
            return _domain_change_page(
                request, agency, official, change, stranded, form, errors, 409
            )
        messages.success(request, change.done)
        return HttpResponseRedirect(_domains_url(agency))
    errors = form_errors(form) if request.method == "POST" else []
    return _domain_change_page(
        request, agency, official, change, stranded, form, errors, 400 if errors else 200
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def domain_remove(request: AuthedRequest, agency_id: int, domain_id: int) -> HttpResponse:
    """Remove one of the agency's domains, with a reason, after confirmation."""
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    official = agency_domain_get_for_vetting(user=request.user, agency=agency, domain_id=domain_id)
    change = _removal(official)
    stranded = domain_change_stranded(agency=agency, official=official, remove=True)
    return _domain_change_answer(
        request,
        agency,
        official,
        change,
        stranded,
        apply=lambda reason: agency_domain_remove(
            agency=agency, actor=request.user, domain_id=official.pk, reason=reason
        ),
    )


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def domain_subdomains(request: AuthedRequest, agency_id: int, domain_id: int) -> HttpResponse:
    """Accept, or stop accepting, a domain's subdomains, with a reason, after confirmation.

    The page offers the opposite of the current setting; the service refuses a change to
    the setting already in force, so two administrators cannot undo each other unawares.
    """
    agency = agency_get_for_vetting(user=request.user, agency_id=agency_id)
    official = agency_domain_get_for_vetting(user=request.user, agency=agency, domain_id=domain_id)
    if request.method == "POST":
        allow = request.POST.get("allow", "") == "1"
    else:
        allow = not official.allow_subdomains
    change = _subdomains_change(official, allow)
    stranded = domain_change_stranded(agency=agency, official=official, allow=allow)
    return _domain_change_answer(
        request,
        agency,
        official,
        change,
        stranded,
        apply=lambda reason: agency_domain_subdomains_set(
            agency=agency, actor=request.user, domain_id=official.pk, allow=allow, reason=reason
        ),
    )
