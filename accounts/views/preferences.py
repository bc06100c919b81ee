"""The account page's language and time zone."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import activate, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.forms import form_errors

from ..access import AuthedRequest, onboarding
from ..preferences import default_zone, user_zone, zone_choices
from ..services.preferences import preferences_update


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[("", gettext_lazy("As my browser asks")), *settings.LANGUAGES],
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        required=False,
        help_text=gettext_lazy("Every date and time in the portal and its emails is shown in it."),
    )

    def __init__(self, *args, default_zone: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        zone_field = self.fields["time_zone"]
        assert isinstance(zone_field, forms.ChoiceField)  # noqa: S101  (for the type checker)
        zone_field.choices = [
            ("", _("The default (%(zone)s)") % {"zone": default_zone}),
            *zone_choices(),
        ]


@onboarding
@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: AuthedRequest) -> HttpResponse:
    user = request.user
    initial = {"language": user.language, "time_zone": user.time_zone}
    form = PreferencesForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        default_zone=default_zone(user),
    )
    if request.method == "POST" and form.is_valid():
        preferences_update(
            user=user,
            language=form.cleaned_data["language"],
            time_zone=form.cleaned_data["time_zone"],
        )
        if user.language:
            activate(user.language)
        messages.success(request, _("Your language and time zone are saved."))
        return HttpResponseRedirect(reverse("account-preferences"))
    with timezone.override(user_zone(user)):
        return render(
            request,
            "accounts/preferences.html",
            {
                "form": form,
                "errors": form_errors(form) if form.is_bound else [],
                "zone": user_zone(user),
            },
            status=400 if form.is_bound else 200,
        )
