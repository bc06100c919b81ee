"""Middleware of the web shell."""

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.template import loader
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext

from .http import client_ip
from .problems import is_api_request, problem_response
from .views import method_not_allowed

logger = logging.getLogger(__name__)

# Headers that describe the body, which the rendered page replaces.
_BODY_HEADERS = {"content-type", "content-length"}


@dataclass(frozen=True)
class OwnLimit:
    """A path that takes larger bodies than MAX_REQUEST_BODY_BYTES, under its own limit."""

    pattern: re.Pattern[str]
    setting: str  # the setting that holds the limit, in bytes
    # The intake channel whose rejection log records a refusal here ("" for none).
    channel: str = ""
    # Whether the view itself refuses a declared length over the limit, before anything
    # reads the body (and logs it with the caller); the middleware then only counts what
    # a body without a declared length streams.
    view_checks_length: bool = False


# The intake paths (found in portal/api_urls.py and requests_app/web/urls.py). Their
# limits are checked here, first, because Django's CSRF check and DRF's session
# authentication read a form body before a view could refuse it.
OWN_LIMITS = (
    OwnLimit(re.compile(r"^/api/v1/submissions/?$"), "INTAKE_MAX_REQUEST_BYTES", "api"),
    OwnLimit(
        re.compile(r"^/requests/new/submit/$"),
        "INTAKE_MAX_REQUEST_BYTES",
        "web",
        view_checks_length=True,  # csrf_exempt; it checks the size, then the CSRF token
    ),
    # A message is JSON: Django's own limit for a body read into memory.
    OwnLimit(re.compile(r"^/api/v1/submissions/[^/]+/messages/?$"), "DATA_UPLOAD_MAX_MEMORY_SIZE"),
)


def _own_limit(path: str) -> OwnLimit | None:
    return next((own for own in OWN_LIMITS if own.pattern.match(path)), None)


class _CountedStream(io.IOBase):
    """``wsgi.input`` of a body without Content-Length, refusing to read past ``limit``."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__()
        self._stream = stream
        self.limit = limit
        self.count = 0
        self.exceeded = False

    def _take(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self.limit:
            self.exceeded = True
            raise RequestDataTooBig(f"The request body is larger than {self.limit} bytes.")
        return data

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if self.exceeded:
            raise RequestDataTooBig(f"The request body is larger than {self.limit} bytes.")
        # Never more than one byte past the limit, however much the caller asks for.
        room = self.limit + 1 - self.count
        size = room if size is None or size < 0 else min(size, room)
        return self._take(self._stream.read(size))

    def readline(self, size: int | None = -1, /) -> bytes:
        if self.exceeded:
            raise RequestDataTooBig(f"The request body is larger than {self.limit} bytes.")
        room = self.limit + 1 - self.count
        size = room if size is None or size < 0 else min(size, room)
        return self._take(self._stream.readline(size))


def _csrf_token(request: HttpRequest) -> str:
    """The CSRF token of the 413 page's language switcher, from the cookie the browser sent.

    This middleware runs before Django's CSRF middleware, which would read the cookie; it
    reads only the cookie, never the body.
    """
    CsrfViewMiddleware(lambda request: HttpResponse()).process_request(request)
    return get_token(request)


class RequestBodyLimitMiddleware:
    """Refuse a request body over its limit with 413 before anything reads it.

    First in MIDDLEWARE: Django's CSRF check reads a form body (and writes its files to
    disk) before any view runs, and so does DRF's session authentication. The limit is
    MAX_REQUEST_BODY_BYTES, except on the intake paths (``OWN_LIMITS``). A declared
    Content-Length over the limit is refused unread. A body without one (chunked, where
    the server marks the input as terminated, ``wsgi.input_terminated``) is counted as it
    is read, and refused once it passes the limit. API paths answer a problem document
    (``too_large``), pages a plain page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        own = _own_limit(request.path_info)
        limit = int(getattr(settings, own.setting)) if own else settings.MAX_REQUEST_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH")
        if declared not in (None, ""):
            try:
                length = int(declared)
            except ValueError:
                length = 0  # Django reads no body either
            if length > limit and not (own and own.view_checks_length):
                return self._refuse(request, own, limit)
            return self.get_response(request)
        environ = getattr(request, "environ", None)
        if not environ or not environ.get("wsgi.input_terminated"):
            return self.get_response(request)  # Django reads no body without a length
        counted = _CountedStream(environ["wsgi.input"], limit)
        environ["wsgi.input"] = counted
        # Django's request already wrapped the input; read the body through the count.
        request._stream = counted  # type: ignore[attr-defined,assignment]
        response = self.get_response(request)
        if counted.exceeded:
            return self._refuse(request, own, limit)
        return response

    def _refuse(self, request: HttpRequest, own: OwnLimit | None, limit: int) -> HttpResponse:
        # LocaleMiddleware has not run yet: answer in the language the request asks for
        # (its cookie or Accept-Language; never its body), not whichever the thread had.
        with translation.override(translation.get_language_from_request(request)):
            response = self._refusal(request, own, limit)
        patch_vary_headers(response, ("Accept-Language",))
        return response

    def _refusal(self, request: HttpRequest, own: OwnLimit | None, limit: int) -> HttpResponse:
        ip = client_ip(request)
        logger.warning(
            "Request body refused: over %d bytes (%s %s from %s)",
            limit,
            request.method,
            request.path,
            ip,
        )
        detail = gettext("The request body is larger than allowed.")
        if own and own.channel:
            from .problems import Problem
            from .signals import request_body_refused

            request_body_refused.send(
                sender=type(self),
                channel=own.channel,
                problem=Problem("too_large", 413, detail),
                ip=ip,
            )
        if is_api_request(request):
            response: HttpResponse = problem_response("too_large", 413, detail)
        else:
            page = loader.get_template("413.html").render({"csrf_token": _csrf_token(request)})
            response = HttpResponse(page, status=413)
        # The middleware that would add these runs after this one: say them here.
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Frame-Options"] = "DENY"
        response["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        response["Cache-Control"] = "no-store"
        response["Content-Language"] = translation.get_language()
        return response


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
