"""The staff page of the request form's legal-basis help: examples and citations per country.

Vetting administrators only (they keep the jurisdiction policy). ``policy.help`` reads and
sets one country's help, with a reason kept in the audit log; the officer's form shows
the help of their agency's country from the next page load on.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_countries import countries

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from portal.forms import form_errors
from requests_app.policy.countries import country_choices
from requests_app.policy.help import (
    BASES_MAX_LENGTH,
    EXAMPLE_MAX_LENGTH,
    country_help_all,
    country_help_get_for_staff,
    country_help_set,
)
from requests_app.policy.services import REASON_MAX_LENGTH, PolicyRefused


class CountryHelpForm(forms.Form):
    country = forms.ChoiceField(label=gettext_lazy("Country"), required=False)
    example = forms.CharField(
        label=gettext_lazy("Example of a legal basis"),
        required=False,
        max_length=EXAMPLE_MAX_LENGTH,
        help_text=gettext_lazy(
            "Shown under the form's legal-basis field, as the country's officers would "
            "write it. Printed as written."
        ),
    )
    bases = forms.CharField(
        label=gettext_lazy("Legal bases the platform recognises"),
        required=False,
        max_length=BASES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("One citation per line; printed as written."),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the change"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Kept in the audit log: the legal advice or decision you act on."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = country_choices(_("Every other country (the fallback)"))  # type: ignore[attr-defined]

    def add_refusal(self, refused: PolicyRefused) -> None:
        for name, message in refused.problems:
            self.add_error(name if name in self.fields else None, message)


@role_required(Role.VETTING_ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def country_help_page(request: AuthedRequest) -> HttpResponse:
    """Every country's help, and the form that sets one country's."""
    status = 200
    if request.method == "POST":
        form = CountryHelpForm(request.POST)
        if form.is_valid():
            try:
                row = country_help_set(
                    actor=request.user,
                    country=form.cleaned_data["country"],
                    example=form.cleaned_data["example"],
                    bases=form.cleaned_data["bases"],
                    reason=form.cleaned_data["reason"],
                )
            except PolicyRefused as refused:
                form.add_refusal(refused)
                status = 409
            else:
                name = countries.name(str(row.country)) if row.country else _("every other country")
                messages.success(
                    request,
                    _("The help for %(country)s is saved; officers see it on their next form.")
                    % {"country": name},
                )
                return HttpResponseRedirect(reverse("staff-country-help"))
        else:
            status = 400
    else:
        initial: dict[str, Any] = {}
        chosen = request.GET.get("country")
        if chosen is not None and (chosen == "" or chosen in countries):
            current = country_help_get_for_staff(user=request.user, country=chosen)
            initial = {
                "country": chosen,
                "example": current.legal_basis_example if current else "",
                "bases": current.legal_bases if current else "",
            }
        form = CountryHelpForm(initial=initial)
    return render(
        request,
        "requests_app/staff/country_help.html",
        {
            "form": form,
            "errors": form_errors(form) if form.is_bound else [],
            "rows": country_help_all(user=request.user),
        },
        status=status,
    )
