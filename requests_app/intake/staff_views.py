"""The staff page of intake rejections at a glance: what was refused, from where, and bursts.

Vetting administrators only. A thin view: ``intake.staff_selectors`` reads and decides
who may read.
"""

from datetime import date, timedelta
from typing import Any, cast

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from portal.forms import form_errors
from requests_app.intake.staff_selectors import (
    BASELINE_DAYS,
    BURST_FACTOR,
    BURST_MIN_COUNT,
    MAX_PAGES,
    MAX_RANGE_DAYS,
    NO_AGENCY,
    PAGE_SIZE,
    REJECTION_MEANINGS,
    SIGNATURE_CODES,
    RejectionFilters,
    rejection_agency_choices,
    rejection_overview,
)
from requests_app.lifecycle.models import Channel

vetting_admin = role_required(Role.VETTING_ADMIN)


# --- Intake rejections ----------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"


class RejectionFilterForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From (UTC)"), required=False, widget=DateInput)
    date_to = forms.DateField(
        label=gettext_lazy("To (UTC), inclusive"), required=False, widget=DateInput
    )
    code = forms.ChoiceField(label=gettext_lazy("Code"), required=False)
    agency = forms.ChoiceField(label=gettext_lazy("Agency"), required=False)
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        required=False,
        choices=[("", gettext_lazy("Any channel")), *Channel.choices],
    )
    ip = forms.GenericIPAddressField(
        label=gettext_lazy("Address"), required=False, unpack_ipv4=True
    )

    def __init__(
        self, *args: Any, agencies: list[tuple[str, str]], today: date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        code_field = cast(forms.ChoiceField, self.fields["code"])
        code_field.choices = [
            ("", gettext("Any code")),
            *(
                (code, gettext("%(code)s: %(meaning)s") % {"code": code, "meaning": meaning})
                for code, meaning in REJECTION_MEANINGS.items()
            ),
        ]
        agency_field = cast(forms.ChoiceField, self.fields["agency"])
        agency_field.choices = [
            ("", gettext("Any agency")),
            (NO_AGENCY, gettext("Sender not recognised (no agency)")),
            *agencies,
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        default = RejectionFilters.default(self.today)
        date_to = cleaned.get("date_to") or default.date_to
        date_from = cleaned.get("date_from") or date_to - timedelta(days=default.days - 1)
        if "date_from" in self.errors or "date_to" in self.errors:
            return cleaned
        if date_from > date_to:
            self.add_error("date_from", gettext("Start on or before the last day."))
        elif (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
            self.add_error(
                "date_from",
                gettext("Show at most %(days)d days at once.") % {"days": MAX_RANGE_DAYS},
            )
        cleaned["date_from"], cleaned["date_to"] = date_from, date_to
        return cleaned

    def filters(self) -> RejectionFilters:
        data = self.cleaned_data
        return RejectionFilters(
            date_from=data["date_from"],
            date_to=data["date_to"],
            code=data.get("code") or "",
            agency=data.get("agency") or "",
            channel=data.get("channel") or "",
            ip=data.get("ip") or "",
        )


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), MAX_PAGES)
    except ValueError:
        return 1


@vetting_admin
@never_cache
@require_GET
def rejections(request: AuthedRequest) -> HttpResponse:
    """Rejections by code, agency, day and address, the bursts, and the newest entries."""
    today = timezone.now().date()
    agencies = rejection_agency_choices(user=request.user)
    filtering = any(key != "page" for key in request.GET)
    if filtering:
        form = RejectionFilterForm(request.GET, agencies=agencies, today=today)
    else:
        default = RejectionFilters.default(today)
        form = RejectionFilterForm(
            agencies=agencies,
            today=today,
            initial={"date_from": default.date_from, "date_to": default.date_to},
        )
    context: dict[str, Any] = {
        "form": form,
        "errors": [],
        "overview": None,
        "signature_codes": SIGNATURE_CODES,
        "burst": {"factor": BURST_FACTOR, "min": BURST_MIN_COUNT, "days": BASELINE_DAYS},
        "page_size": PAGE_SIZE,
        "max_entries": PAGE_SIZE * MAX_PAGES,
    }
    if filtering and not form.is_valid():
        context["errors"] = form_errors(form)
        return render(request, "requests_app/staff/rejections.html", context, status=400)
    filters = form.filters() if filtering else RejectionFilters.default(today)
    context["overview"] = rejection_overview(
        user=request.user, filters=filters, page=_page_number(request.GET.get("page"))
    )
    return render(request, "requests_app/staff/rejections.html", context)
