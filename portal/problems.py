"""Errors as RFC 9457 problem documents with a stable ``code`` (PROTOCOL §5).

Every error the API answers, whether raised by the portal (``Problem``), by Django REST
framework (validation, parsing, authentication, throttling, content negotiation) or by
Django itself under ``/api/`` (unknown URL, oversized body, server error), leaves as
``application/problem+json`` with the same members: ``type``, ``title``, ``status``,
``detail``, ``code`` and, for field errors, ``errors``.
"""

import errno
import logging
import math
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# How long a client should wait before sending again when a service the portal needs is
# down (the database, the cache, the storage's disk).
UNAVAILABLE_RETRY_AFTER = 30

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:authority-portal:problem:"

# The ``title`` of each status (its HTTP reason phrase, in English as Python names it) and
# the ``detail`` a problem without its own explanation gets; both follow the request's
# language (PROTOCOL §5.1), the ``code`` never does.
STATUS_TEXTS: dict[int, tuple[Promise, Promise]] = {
    400: (_("Bad Request"), _("The request could not be read.")),
    401: (_("Unauthorized"), _("The request needs a valid credential.")),
    403: (_("Forbidden"), _("The caller may not do this.")),
    404: (_("Not Found"), _("There is nothing at this address.")),
    405: (_("Method Not Allowed"), _("This address does not take this method.")),
    406: (_("Not Acceptable"), _("The endpoint cannot produce what the Accept header asks for.")),
    409: (_("Conflict"), _("The request conflicts with the current state.")),
    410: (_("Gone"), _("This is no longer available.")),
    413: (_("Request Entity Too Large"), _("The request body is larger than allowed.")),
    415: (_("Unsupported Media Type"), _("The body is in a format this endpoint does not take.")),
    422: (_("Unprocessable Entity"), _("The request is well formed but cannot be processed.")),
    429: (_("Too Many Requests"), _("Too many requests; try again later.")),
    500: (_("Internal Server Error"), _("The portal failed to answer this request.")),
    503: (_("Service Unavailable"), _("A service the portal needs is unavailable.")),
}


def status_title(status: int) -> str:
    """The ``title`` of a problem: the reason phrase of ``status``, in the active language."""
    if status in STATUS_TEXTS:
        return str(STATUS_TEXTS[status][0])
    return HTTPStatus(status).phrase


def status_detail(status: int) -> str:
    """The ``detail`` of a problem that has none of its own, in the active language."""
    if status in STATUS_TEXTS:
        return str(STATUS_TEXTS[status][1])
    return HTTPStatus(status).description


class Problem(exceptions.APIException):
    """A refusal with a stable code, raised by the portal's own rules.

    An ``APIException`` so that DRF treats it as its own wherever it catches those: an
    authentication class may raise it, and the request is then marked unauthenticated
    instead of trying the authenticators again. ``exception_handler`` renders it.
    """

    def __init__(self, code: str, status: int, detail: str = "", **extra: Any) -> None:
        Exception.__init__(self, detail or code)
        self.code = code
        self.status = status
        self.status_code = status
        self.detail = exceptions.ErrorDetail(detail, code=code)
        self.extra = extra
        self.headers: dict[str, str] = {}
        # Set once the refusal is written to the intake-rejection log.
        self.logged = False

    @property
    def message(self) -> str:
        return str(self.detail)

    def __str__(self) -> str:
        return str(self.detail) or self.code


def problem_document(
    code: str, status: int, detail: str | Promise = "", **extra: Any
) -> dict[str, Any]:
    """Build the body of a problem response; ``title`` and ``detail`` in the active language."""
    document: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": status_title(status),
        "status": status,
        # str(): a lazy detail is rendered now, under the request's language.
        "detail": str(detail) or status_detail(status),
        "code": code,
    }
    document.update(extra)
    return document


def problem_response(
    code: str, status: int, detail: str | Promise = "", **extra: Any
) -> JsonResponse:
    """Answer a plain Django view (outside DRF) with a problem document."""
    return JsonResponse(
        problem_document(code, status, detail, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def field_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error structure into ``[{"field": "a.b.0", "message": ...}]``."""
    if isinstance(detail, dict):
        found: list[dict[str, str]] = []
        for key, value in detail.items():
            name = (
                prefix if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            )
            found.extend(field_errors(value, name))
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix or "(body)", "message": str(item)} for item in detail]
        found = []
        for index, value in enumerate(detail):
            found.extend(field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return found
    return [{"field": prefix or "(body)", "message": str(detail)}]


# DRF exception class -> (stable code, status); checked in order, most specific first.
_DRF_CODES: list[tuple[type[Exception], str, int]] = [
    (exceptions.ValidationError, "malformed", status.HTTP_400_BAD_REQUEST),
    (exceptions.ParseError, "malformed", status.HTTP_400_BAD_REQUEST),
    (exceptions.NotAuthenticated, "unauthenticated", status.HTTP_401_UNAUTHORIZED),
    (exceptions.AuthenticationFailed, "unauthenticated", status.HTTP_401_UNAUTHORIZED),
    (exceptions.PermissionDenied, "forbidden", status.HTTP_403_FORBIDDEN),
    (exceptions.NotFound, "not_found", status.HTTP_404_NOT_FOUND),
    (exceptions.MethodNotAllowed, "method_not_allowed", status.HTTP_405_METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, "not_acceptable", status.HTTP_406_NOT_ACCEPTABLE),
    (
        exceptions.UnsupportedMediaType,
        "unsupported_media_type",
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ),
    (exceptions.Throttled, "rate_limited", status.HTTP_429_TOO_MANY_REQUESTS),
]


def service_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says a service is down (database, Redis, a full disk), not a bug."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeoutError
    ):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: render every known error as a problem document."""
    request = context.get("request")
    if request is not None:
        # A problem is JSON whatever renderer the view negotiated: the schema view
        # would otherwise write it as YAML under a problem+json content type.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = PROBLEM_CONTENT_TYPE
    if isinstance(exc, Problem):
        return Response(
            problem_document(exc.code, exc.status, str(exc.detail), **exc.extra),
            status=exc.status,
            headers=exc.headers,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    if isinstance(exc, RequestDataTooBig | TooManyFilesSent):
        return Response(
            problem_document("too_large", 413, gettext("The request body is larger than allowed.")),
            status=413,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(
            problem_document("malformed", 400, gettext("The request could not be read.")),
            status=400,
            content_type=PROBLEM_CONTENT_TYPE,
        )

    if service_outage(exc):
        # Not the client's fault and not a bug: say so, and when to try again. Whatever the
        # request would have written was rolled back with its transaction.
        logger.error("API request refused: a service is unavailable", exc_info=exc)
        return Response(
            problem_document(
                "unavailable",
                503,
                gettext(
                    "A service the portal needs is unavailable for a moment; nothing was "
                    "stored. Send the same request again after the time in Retry-After."
                ),
                retry_after=UNAVAILABLE_RETRY_AFTER,
            ),
            status=503,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
            content_type=PROBLEM_CONTENT_TYPE,
        )

    # Let DRF translate Http404 and Django's PermissionDenied and collect its headers
    # (WWW-Authenticate, Allow, Retry-After); then replace the body.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (see handler500)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    code, status_code = "error", response.status_code
    for exc_class, mapped_code, mapped_status in _DRF_CODES:
        if isinstance(exc, exc_class):
            code, status_code = mapped_code, mapped_status
            break

    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = gettext("The request does not match the schema.")
        extra["errors"] = field_errors(exc.detail)
    elif isinstance(exc, exceptions.Throttled):
        detail = gettext("Too many requests; try again after the time in Retry-After.")
        wait = getattr(exc, "wait", None)
        if wait is not None:
            extra["retry_after"] = math.ceil(wait)
    else:
        # DRF's own messages are lazy and translated (it ships catalogs for each language).
        detail = str(getattr(exc, "detail", "")) or status_detail(status_code)

    headers = {
        name: response[name]
        for name in ("WWW-Authenticate", "Allow", "Retry-After")
        if name in response
    }
    return Response(
        problem_document(code, status_code, detail, **extra),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")
