"""The staff page of the certificate statements: the custodian's declaration per country.

Vetting administrators only (they keep the jurisdiction policy). ``policy.selectors``
reads, ``policy.services.certificate_statement_set`` changes one country's text, with a
reason kept in the audit log; a blank text returns the country to the default.
"""

from functools import partial
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
from requests_app.policy.defaults import DEFAULT_CERTIFICATE_STATEMENT
from requests_app.policy.selectors import certificate_statements, country_policy_get_for_staff
from requests_app.policy.services import (
    REASON_MAX_LENGTH,
    STATEMENT_MAX_LENGTH,
    PolicyRefused,
    certificate_statement_set,
)

statement_countries = partial(country_choices, gettext_lazy("Choose a country"))


class StatementForm(forms.Form):
    country = forms.ChoiceField(label=gettext_lazy("Country"), choices=statement_countries)
    statement = forms.CharField(
        label=gettext_lazy("The custodian's statement"),
        required=False,
        max_length=STATEMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=gettext_lazy(
            "Printed in the certificate of authenticity of every response to this country's "
            "authorities, above the custodian's name. Leave it blank for the default text."
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason for the change"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Kept in the audit log: the legal advice or decision you act on."),
    )

    def add_refusal(self, refused: PolicyRefused) -> None:
        for name, message in refused.problems:
            self.add_error(name if name in self.fields else None, message)


@role_required(Role.VETTING_ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def certificate_statement_page(request: AuthedRequest) -> HttpResponse:
    """The default statement, each country's own, and the form that sets one."""
    status = 200
    if request.method == "POST":
        form = StatementForm(request.POST)
        if form.is_valid():
            try:
                row = certificate_statement_set(
                    actor=request.user,
                    country=form.cleaned_data["country"],
                    statement=form.cleaned_data["statement"],
                    reason=form.cleaned_data["reason"],
                )
            except PolicyRefused as refused:
                form.add_refusal(refused)
                status = 409
            else:
                messages.success(
                    request,
                    _(
                        "The statement for %(country)s is saved; responses sealed from now "
                        "on carry it."
                    )
                    % {"country": countries.name(str(row.country))},
                )
                return HttpResponseRedirect(reverse("staff-certificate-statements"))
        else:
            status = 400
    else:
        initial: dict[str, Any] = {}
        chosen = request.GET.get("country", "")
        if chosen in countries:
            current = country_policy_get_for_staff(user=request.user, country=chosen)
            initial = {
                "country": chosen,
                "statement": current.certificate_statement if current else "",
            }
        form = StatementForm(initial=initial)
    return render(
        request,
        "requests_app/staff/certificate_statements.html",
        {
            "form": form,
            "errors": form_errors(form) if form.is_bound else [],
            "default_statement": DEFAULT_CERTIFICATE_STATEMENT,
            "rows": certificate_statements(user=request.user),
        },
        status=status,
    )
