"""Middleware of the web shell."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .views import method_not_allowed

# Headers that describe the body, which the rendered page replaces.
_BODY_HEADERS = {"content-type", "content-length"}


class MethodNotAllowedPageMiddleware:
    """Give a 405 without a body (``require_http_methods``, a class-based view) a page.

    Those answer an empty ``HttpResponseNotAllowed``, which a browser shows as a blank
    page. Its headers (``Allow``, caching) and cookies are kept; only the body is new.
    Answers that have a body already, such as the API's problem documents, pass as they are.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            response.status_code != 405
            or not isinstance(response, HttpResponse)
            or response.content
        ):
            return response
        page = method_not_allowed(request, response.get("Allow", ""))
        for name, value in response.items():
            if name.lower() not in _BODY_HEADERS:
                page[name] = value
        page.cookies = response.cookies
        return page
