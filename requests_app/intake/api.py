"""The submissions API (PROTOCOL §4): submit, list, read; the portal's receipt key."""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiRequest,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import request_officer
from portal import crypto
from portal.http import client_ip
from portal.problems import Problem
from requests_app.intake.pipeline import rejection_record, submission_accept_api
from requests_app.intake.schema import Envelope
from requests_app.intake.throttles import SubmissionRateLimits
from requests_app.lifecycle.access import (
    officer_of,
    request_get_for_officer,
    request_list_for_officer,
)
from requests_app.lifecycle.models import LegalRequest, TargetType

PROBLEM = OpenApiResponse(description="application/problem+json with a stable `code`")


class TargetWindowOut(serializers.Serializer):
    to = serializers.DateTimeField(source="window_to")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(source="window_from")
        return fields


class TargetOut(serializers.Serializer):
    """A target as submitted (PROTOCOL §2.2); an ``ip_address`` with its ``window``."""

    type = serializers.ChoiceField(choices=TargetType.choices)
    value = serializers.CharField()
    window = TargetWindowOut(
        source="*",
        required=False,
        help_text="Only for an ip_address: when it was used (UTC, both ends included).",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        shape = super().to_representation(instance)
        if getattr(instance, "window_from", None) is None:
            shape.pop("window", None)
        return shape


class SubmissionOut(serializers.ModelSerializer):
    officer = serializers.CharField(source="officer.user.full_name")
    targets = TargetOut(many=True, read_only=True)

    class Meta:
        model = LegalRequest
        fields = [
            "reference",
            "status",
            "kind",
            "emergency",
            "channel",
            "case_reference",
            "offence",
            "data_categories",
            "period_from",
            "period_to",
            "received_at",
            "due_at",
            "key_id",
            "payload_sha256",
            "officer",
            "receipt",
            "targets",
        ]


class SubmissionCreated(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.CharField()
    due_at = serializers.CharField()
    receipt = serializers.DictField()


def envelope_bytes(request: Request) -> bytes:
    """The ``envelope`` part of a multipart body (a file part, or a plain field)."""
    part = request.FILES.get("envelope")
    if part is not None:
        if part.size is not None and part.size > settings.INTAKE_MAX_ENVELOPE_BYTES:
            raise Problem("too_large", 413, _("The envelope is larger than the protocol allows."))
        return part.read()
    data: Any = request.data
    text = data.get("envelope") if hasattr(data, "get") else None
    if not isinstance(text, str) or not text:
        raise Problem(
            "malformed",
            400,
            _("The multipart body needs a part named envelope."),
            errors=[{"field": "envelope", "message": _("This part is required.")}],
        )
    return text.encode("utf-8")


class SubmissionsView(APIView):
    """Submit a signed legal request; list your agency's requests."""

    parser_classes = [MultiPartParser]
    permission_classes = [AllowAny]  # intake's channel step decides, and logs refusals
    throttle_classes = [SubmissionRateLimits]  # per token, per officer, per address

    @extend_schema(
        operation_id="submissions_create",
        request={
            "multipart/form-data": OpenApiRequest(
                inline_serializer(
                    "SubmissionUpload",
                    {
                        "envelope": Envelope(
                            help_text="The JSON submission document (PROTOCOL §2), as one "
                            "part of type application/json (a file part or a form field)."
                        ),
                        "attachment": serializers.ListField(
                            child=serializers.FileField(), required=False
                        ),
                    },
                ),
                encoding={"envelope": {"contentType": "application/json"}},
            )
        },
        responses={
            201: SubmissionCreated,
            400: PROBLEM,
            401: PROBLEM,
            403: PROBLEM,
            409: PROBLEM,
            413: PROBLEM,
            422: PROBLEM,
            429: PROBLEM,
        },
    )
    def post(self, request: Request) -> Response:
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.INTAKE_MAX_REQUEST_BYTES:
            raise Problem("too_large", 413, _("The request is larger than the protocol allows."))
        # The token's officer, loaded with it (no second look-up).
        officer = request_officer(request)
        accepted = submission_accept_api(
            raw_envelope=envelope_bytes(request),
            uploads=request.FILES.getlist("attachment"),
            officer=officer,
            ip=client_ip(request),
        )
        return Response(accepted.answer(), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="submissions_list",
        responses={200: SubmissionOut(many=True), 401: PROBLEM, 403: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        officer = _require_officer(request)
        requests = request_list_for_officer(officer=officer).prefetch_related("targets")[:200]
        return Response(SubmissionOut(requests, many=True).data)

    def handle_exception(self, exc: Exception) -> Response:
        # Refusals before intake ran (no or bad token, rate limits) are logged as well.
        if self.request.method == "POST":
            problem = _as_problem(exc)
            if problem is not None:
                rejection_record(
                    problem=problem,
                    channel="api",
                    body_sha256="",
                    ip=client_ip(self.request),
                    officer=officer_of(getattr(self.request._request, "user", None)),
                )
        return super().handle_exception(exc)


def _as_problem(exc: Exception) -> Problem | None:
    """The problem code a framework refusal maps to, for the rejection log."""
    if isinstance(exc, Problem):
        return None if getattr(exc, "logged", False) else exc
    if isinstance(exc, exceptions.Throttled):
        return Problem("rate_limited", 429, _("Too many submissions."))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Problem("unauthenticated", 401, _("No or bad token."))
    if isinstance(exc, APIException):
        return Problem("malformed", exc.status_code, str(exc.detail)[:200])
    return None


def _require_officer(request: Request) -> Any:
    """The calling officer; 401 for no caller, 403 ``forbidden`` for a caller of another role.

    The same answers as the views guarded by ``IsActiveOfficer`` (``/api/v1/me``).
    """
    if request.user is None:  # no token and no verified session
        raise exceptions.NotAuthenticated(_("Send an API token, or log in with a second factor."))
    officer = officer_of(request.user)
    if officer is None:
        raise Problem("forbidden", 403, _("Only officers read submissions."))
    if not officer.can_act:
        raise Problem("officer_not_active", 403, _("Your account is not active."))
    return officer


class SubmissionDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="submissions_read",
        responses={200: SubmissionOut, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, reference: str) -> Response:
        officer = _require_officer(request)
        return Response(
            SubmissionOut(request_get_for_officer(officer=officer, reference=reference)).data
        )


class PortalKeyView(APIView):
    """The portal's Ed25519 receipt key, to verify receipts and response signatures."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="portal_key",
        responses={
            200: inline_serializer(
                "PortalKey",
                {
                    "alg": serializers.CharField(),
                    "key_id": serializers.CharField(),
                    "public_key_pem": serializers.CharField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(crypto.portal_public_key_document())
