"""The staff page of the on-call list: who hears of an emergency nobody claimed.

Vetting administrators only (403 for every other role). Adding and removing a reviewer
go through ``escalation.on_call_add`` / ``on_call_remove``, which audit each change;
a refused change changes nothing and says why.
"""

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthedRequest, role_required
from accounts.models import Role, User
from requests_app.review.escalation import (
    OnCallRefused,
    on_call_add,
    on_call_remove,
    on_call_reviewers,
)

vetting_admin = role_required(Role.VETTING_ADMIN)


class ReviewerField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})"


class OnCallAddForm(forms.Form):
    reviewer = ReviewerField(
        label=_("Reviewer"),
        queryset=User.objects.none(),
        empty_label=None,
        help_text=_("Told by email (and by the paging system) of every unclaimed emergency."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["reviewer"]).queryset = (
            User.objects.filter(role=Role.REVIEWER, is_active=True)
            .exclude(pk__in=on_call_reviewers().values("pk"))
            .order_by("full_name", "pk")
        )


class OnCallRemoveForm(forms.Form):
    reviewer = forms.IntegerField(widget=forms.HiddenInput)


def _page(
    request: AuthedRequest, *, form: OnCallAddForm | None = None, errors: list[str] | None = None
) -> HttpResponse:
    return render(
        request,
        "requests_app/staff/on_call.html",
        {
            "on_call": list(on_call_reviewers()),
            "form": form or OnCallAddForm(),
            "errors": errors or [],
        },
        status=400 if errors else 200,
    )


@vetting_admin
@never_cache
@require_GET
def on_call_list(request: AuthedRequest) -> HttpResponse:
    return _page(request)


@vetting_admin
@never_cache
@require_POST
def on_call_add_view(request: AuthedRequest) -> HttpResponse:
    form = OnCallAddForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, errors=[gettext("Choose an active reviewer.")])
    try:
        on_call_add(reviewer=form.cleaned_data["reviewer"], by=request.user)
    except OnCallRefused as refused:
        return _page(request, form=form, errors=[str(refused)])
    messages.success(request, gettext("The reviewer is on call."))
    return HttpResponseRedirect(reverse("staff-on-call"))


@vetting_admin
@never_cache
@require_POST
def on_call_remove_view(request: AuthedRequest) -> HttpResponse:
    form = OnCallRemoveForm(request.POST)
    if not form.is_valid():
        return _page(request, errors=[gettext("Choose a reviewer on call.")])
    try:
        on_call_remove(reviewer_id=form.cleaned_data["reviewer"], by=request.user)
    except OnCallRefused as refused:
        return _page(request, errors=[str(refused)])
    messages.success(request, gettext("The reviewer is no longer on call."))
    return HttpResponseRedirect(reverse("staff-on-call"))
