"""Views of the web shell: health, and the error pages (HTML or problem JSON)."""

from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .access import public
from .health import health_report
from .problems import is_api_request, problem_response


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        if isinstance(exception, RequestDataTooBig | TooManyFilesSent):
            return problem_response(
                "too_large", 413, gettext("The request body is larger than allowed.")
            )
        return problem_response("malformed", 400, gettext("The request could not be read."))
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return problem_response("forbidden", 403)
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return problem_response("not_found", 404, gettext("There is nothing at this address."))
    return render(request, "404.html", status=404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Refuse a form whose CSRF token is missing or stale (CSRF_FAILURE_VIEW).

    Django's own page carries an inline style the CSP blocks; this one uses the layout and
    tells the user how to recover. The reason is for logs (Django logs it), not for users.
    """
    if is_api_request(request):
        return problem_response("forbidden", 403, gettext("The request failed the CSRF check."))
    return render(request, "403_csrf.html", status=403)


def method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    """Answer a method the address does not take: a page, or a problem under /api/."""
    response: HttpResponse
    if is_api_request(request):
        response = problem_response(
            "method_not_allowed",
            405,
            gettext("%(method)s is not allowed here.") % {"method": request.method},
        )
    else:
        response = render(request, "405.html", status=405)
    response["Allow"] = allowed
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return problem_response(
            "server_error", 500, gettext("The portal failed to answer this request.")
        )
    # No context processors here: the error may have come from one of them. The CSRF token
    # is the language switcher's (the page is in the request's language).
    from django.template import loader

    page = loader.get_template("500.html").render({"csrf_token": get_token(request)})
    return HttpResponse(page, status=500)
