"""Test-only views that make the framework raise each kind of error, and a way to call them.

Every view is as small as the error it provokes; none of them is part of the portal, and
no URL leads to any of them. ``serve`` sends a request to one through Django's own
request handling, as the portal runs it: the settings' middleware, the CSRF check, and
the error handlers (``handler400``...) of the project's root URLconf. Only the step
that resolves the path to a view is left out, so the path of the request decides only
whether the view answers "under /api/" (``portal.problems.is_api_request``).
"""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.handlers.base import BaseHandler
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.test import RequestFactory
from django.urls import ResolverMatch
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from portal.access import public
from portal.problems import Problem

THROTTLE_WAIT_SECONDS = 41.2


class TargetSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["email", "phone"])
    value = serializers.CharField(max_length=64)


class RequestSerializer(serializers.Serializer):
    reference = serializers.CharField()
    targets = TargetSerializer(many=True)


class SubmissionSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    request = RequestSerializer()


class Submit(APIView):
    """Validate the body against a nested serializer."""

    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = SubmissionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class NoCredentials(BaseAuthentication):
    """Authenticate nobody, but name a scheme so DRF answers 401, not 403."""

    def authenticate(self, request: Request) -> None:
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class NeedsLogin(APIView):
    authentication_classes = [NoCredentials]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response({})


class DenyAll(BasePermission):
    message = "Nobody may see this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


class Forbidden(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [DenyAll]

    def get(self, request: Request) -> Response:
        return Response({})


class AlwaysThrottled(BaseThrottle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        return False

    def wait(self) -> float:
        return THROTTLE_WAIT_SECONDS


class Throttled(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [AlwaysThrottled]

    def get(self, request: Request) -> Response:
        return Response({})


class Raises(APIView):
    """Raise ``error`` (set through ``as_view``) from the handler."""

    permission_classes = [AllowAny]
    error: Exception = RuntimeError("unset")

    def get(self, request: Request) -> Response:
        raise self.error


def read_body(request: HttpRequest) -> HttpResponse:
    """A plain Django view (outside DRF) that reads the body."""
    return HttpResponse(len(request.body))


@require_POST
def post_only(request: HttpRequest) -> HttpResponse:
    """A plain Django view that answers other methods with an empty 405."""
    return HttpResponse("posted")


@public  # open to anyone, so that the crash is the view's own, not the login gate's
def page_fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internal detail")


class OneViewHandler(BaseHandler):
    """Django's handler with the settings' middleware around ``view``, reached by any path.

    Like the test client's handler it can skip the CSRF check (a browser cannot), and it
    answers an exception as the server does: with the project's error handlers, never
    by raising it into the test.
    """

    def __init__(self, view: Callable[..., HttpResponseBase], *, enforce_csrf_checks: bool):
        super().__init__()
        self.view = view
        self.enforce_csrf_checks = enforce_csrf_checks
        self.load_middleware()

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        match = ResolverMatch(self.view, (), {}, route=request.path_info.lstrip("/"))
        request.resolver_match = match
        return match

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        request._dont_enforce_csrf_checks = not self.enforce_csrf_checks
        return super().get_response(request)


def serve(
    view: Callable[..., HttpResponseBase],
    method: str,
    path: str,
    data: Any = None,
    *,
    enforce_csrf_checks: bool = False,
    **extra: Any,
) -> HttpResponseBase:
    """Send ``method path`` (as ``RequestFactory`` builds it) to ``view``; return the answer."""
    build = getattr(RequestFactory(), method)
    request = build(path, data, **extra) if data is not None else build(path, **extra)
    return OneViewHandler(view, enforce_csrf_checks=enforce_csrf_checks).get_response(request)


# The views as the tests call them, each with the error it is set to raise.
RAISES_PROBLEM = Raises.as_view(
    error=Problem("replay", 409, "This nonce was used before.", nonce="n-1")
)
RAISES_HTTP404 = Raises.as_view(error=Http404("no such request"))
RAISES_DJANGO_DENIED = Raises.as_view(error=DjangoPermissionDenied())
RAISES_CRASH = Raises.as_view(error=RuntimeError("secret internal detail"))
