"""Views of the wiring: the language switcher every page's header posts to."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts.preferences import language_valid
from accounts.services.preferences import preferences_update
from portal.access import public


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
