"""The home page (for each role, the work that waits for it) and the language switcher.

Wiring only: each role's list is read by the layer that owns its data
(``accounts.selectors.vetting_home``, ``requests_app.officer.selectors.officer_home``,
``requests_app.review.selectors.reviewer_home``), and every count is the one its queue or
list page shows, because both read the same selector.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts.access import page_officer
from accounts.middleware import is_onboarding_officer
from accounts.models import Role
from accounts.preferences import language_valid
from accounts.selectors import vetting_home
from accounts.services.preferences import preferences_update
from portal.access import public
from requests_app.officer.selectors import officer_home
from requests_app.review.escalation import escalation_notices
from requests_app.review.selectors import reviewer_home


@public
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    """The landing page, or the signed-in user's work list.

    A session past the password alone is sent on to its second factor: until it passes,
    the session is shown nothing about the account.
    """
    user = request.user
    if not user.is_authenticated:
        return render(request, "portal/home.html")
    if not user.is_verified():
        return HttpResponseRedirect(reverse("login-verify"))
    if user.role == Role.OFFICER:
        if is_onboarding_officer(user):
            # Waiting for vetting: their status page is all there is (the navigation's).
            return render(request, "portal/home.html")
        home = officer_home(officer=page_officer(request))  # type: ignore[arg-type]
        return render(request, "project/home_officer.html", {"home": home})
    if user.role == Role.REVIEWER:
        return render(
            request,
            "project/home_reviewer.html",
            {
                "lists": reviewer_home(user=user),
                "notices": escalation_notices(user=user),
            },
        )
    if user.role == Role.VETTING_ADMIN:
        return render(request, "project/home_vetting.html", {"home": vetting_home(user=user)})
    return render(request, "portal/home.html")


@public
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's ``set_language`` (cookie, safe redirect), saved on the user once logged in.

    An unknown language changes nothing and is not an error: the page comes back as it was.
    """
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = getattr(request, "user", None)
    if language_valid(language) and user is not None and user.is_authenticated:
        preferences_update(user=user, language=language, time_zone=user.time_zone)
    return response
