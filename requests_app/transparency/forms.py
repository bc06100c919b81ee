"""The GET forms that choose a period and an area, and the staff's POST forms."""

from datetime import date
from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from requests_app.transparency.periods import (
    Period,
    PeriodInvalid,
    PeriodKind,
    period_parse,
    quarters_back,
)
from requests_app.transparency.report import WORLD
from requests_app.transparency.services import REASON_MAX_LENGTH, TEAM_NAME_MAX_LENGTH

CUSTOM = "custom"
STAFF_QUARTERS = 8
STAFF_YEARS = 3


class ReportChoiceForm(forms.Form):
    """The public page's choice: a published period and the world or a named country."""

    period = forms.ChoiceField(label=_("Period"))
    country = forms.ChoiceField(label=_("Country"), required=False)

    def __init__(
        self,
        *args: Any,
        periods: list[tuple[str, str]],
        countries: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["period"]).choices = periods
        cast(forms.ChoiceField, self.fields["country"]).choices = [
            (WORLD, gettext("World (every country)")),
            *countries,
        ]


class DateInput(forms.DateInput):
    input_type = "date"


def staff_period_choices(today: date) -> list[tuple[str, str]]:
    quarters = quarters_back(today, STAFF_QUARTERS)
    in_progress = gettext("%(period)s (in progress)")
    found = [
        (q.key, in_progress % {"period": q.short_label} if n == 0 else q.short_label)
        for n, q in enumerate(quarters)
    ]
    found += [
        (str(year), in_progress % {"period": year} if year == today.year else str(year))
        for year in range(today.year, today.year - STAFF_YEARS, -1)
    ]
    return [*found, (CUSTOM, gettext("Custom range (the days below)"))]


class StaffPeriodForm(forms.Form):
    """The dashboard's period: a recent quarter or year, or any range of days."""

    period = forms.ChoiceField(label=_("Period"))
    date_from = forms.DateField(label=_("First day (UTC)"), required=False, widget=DateInput)
    date_to = forms.DateField(
        label=_("Last day (UTC), inclusive"), required=False, widget=DateInput
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["period"]).choices = staff_period_choices(today)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        choice = cleaned.get("period")
        if choice is None:
            return cleaned
        try:
            if choice == CUSTOM:
                first, last = cleaned.get("date_from"), cleaned.get("date_to")
                if first is None or last is None:
                    if "date_from" not in self.errors and "date_to" not in self.errors:
                        self.add_error("date_from", gettext("Give the first and the last day."))
                    return cleaned
                cleaned["chosen"] = Period.custom(first, last)
            else:
                cleaned["chosen"] = period_parse(choice)
        except PeriodInvalid as problem:
            self.add_error("date_from" if choice == CUSTOM else "period", str(problem))
        return cleaned

    def chosen(self) -> Period:
        period: Period = self.cleaned_data["chosen"]
        return period


class PublishForm(forms.Form):
    period = forms.CharField(widget=forms.HiddenInput)
    fingerprint = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Why is this a correction?"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Shown on the public page beside the corrected figures, and kept in the audit "
            "log. Say what was wrong, not who."
        ),
    )

    def clean_period(self) -> Period:
        try:
            period = period_parse(self.cleaned_data["period"])
        except PeriodInvalid as problem:
            raise forms.ValidationError(str(problem)) from None
        if period.kind == PeriodKind.CUSTOM:
            raise forms.ValidationError(gettext("Only a quarter or a whole year is published."))
        return period


class TeamCreateForm(forms.Form):
    name = forms.CharField(label=_("Name of the new team"), max_length=TEAM_NAME_MAX_LENGTH)


class TeamMemberForm(forms.Form):
    reviewer = forms.TypedChoiceField(label=_("Reviewer"), coerce=int)
    team = forms.TypedChoiceField(label=_("Team"), coerce=int)

    def __init__(
        self,
        *args: Any,
        reviewers: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["reviewer"]).choices = reviewers
        cast(forms.TypedChoiceField, self.fields["team"]).choices = teams
