"""Test-only views and urlconf that make the framework raise each kind of error under /api/.

Used with ``@pytest.mark.urls("tests.portal.problem_views")``. Every view is as small as
the error it provokes; none of them is part of the portal.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from portal.problems import Problem

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

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


def page_fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internal detail")


urlpatterns = [
    path("api/test/submit", Submit.as_view()),
    path("api/test/needs-login", NeedsLogin.as_view()),
    path("api/test/forbidden", Forbidden.as_view()),
    path("api/test/throttled", Throttled.as_view()),
    path(
        "api/test/problem",
        Raises.as_view(error=Problem("replay", 409, "This nonce was used before.", nonce="n-1")),
    ),
    path("api/test/http404", Raises.as_view(error=Http404("no such request"))),
    path("api/test/django-denied", Raises.as_view(error=DjangoPermissionDenied())),
    path("api/test/crash", Raises.as_view(error=RuntimeError("secret internal detail"))),
    path("api/test/plain-body", read_body),
    path("api/test/post-only", post_only),
    path("page-fails", page_fails),
]
