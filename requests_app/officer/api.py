"""The authority's side of a submission over the API (PROTOCOL §4): thread and withdrawal.

``GET``/``POST /api/v1/submissions/{reference}/messages`` and
``POST /api/v1/submissions/{reference}/withdraw``. A reply is JSON text, or a signed
envelope with documents as ``multipart/form-data`` (PROTOCOL §4.5, ``signed_reply``). A
request is reached only through ``selectors.request_access_for_officer``: another
agency's, or a colleague's that was not shared, is ``404 not_found``. Refusals are problem
documents: ``400 malformed``, ``403 forbidden`` (a delegate withdrawing), ``409
invalid_state`` (a closed request, a second withdrawal; the body carries the request's
state as ``request_status``), ``429 rate_limited`` (a reply over the reply limits, §5.4,
checked before anything else), and a signed reply's refusals are intake's (§4.5).
"""

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import IsActiveOfficer, api_officer
from portal.parsers import JSONParser  # refuses JSON nested too deep
from portal.problems import Problem
from requests_app.delivery.api import AnyAccept
from requests_app.intake.api import envelope_bytes
from requests_app.intake.schema import StrictSerializer
from requests_app.intake.throttles import ReplyRateLimits
from requests_app.lifecycle.access import (
    RequestAccess,
    messages_for_officer,
    request_access_for_officer,
)
from requests_app.lifecycle.models import LegalRequest, Message, MessageAttachment
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.officer.receipt import receipt_filename, receipt_pdf
from requests_app.officer.services import (
    MAX_MESSAGE_LENGTH,
    MAX_REASON_LENGTH,
    authority_reply,
    authority_withdraw,
)
from requests_app.officer.signed_reply import signed_reply_accept_api

PROBLEM = OpenApiResponse(description="application/problem+json with a stable `code`")
PLATFORM_AUTHOR = "Platform legal team"


class MessageDocumentOut(serializers.ModelSerializer):
    class Meta:
        model = MessageAttachment
        fields = ["filename", "media_type", "sha256", "size"]


class MessageOut(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    attachments = MessageDocumentOut(
        source="documents", many=True, read_only=True, help_text="The documents sent with it."
    )
    key_id = serializers.SerializerMethodField(
        help_text="The key that signed the message; null for a message without documents."
    )

    class Meta:
        model = Message
        fields = ["id", "side", "author", "body", "created_at", "attachments", "key_id"]

    def get_key_id(self, message: Message) -> str | None:
        return message.key_id or None

    def get_author(self, message: Message) -> str:
        # Reviewers are not named to the authority: the platform answers as a team.
        if message.side == Message.Side.PLATFORM:
            return PLATFORM_AUTHOR
        return message.author.full_name


class SentText(serializers.CharField):
    """Text as the schema says: a JSON string (DRF would turn a number into one), whose
    ``max_length`` counts every character sent; surrounding whitespace is trimmed after."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        text: str = super().to_internal_value(data)
        return text


class MessageIn(StrictSerializer):
    body = SentText(
        max_length=MAX_MESSAGE_LENGTH,
        trim_whitespace=True,
        help_text="The message; not only whitespace, and no NUL characters.",
    )


class WithdrawIn(StrictSerializer):
    reason = SentText(
        max_length=MAX_REASON_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why the authority withdraws the request; no NUL characters.",
    )


class WithdrawnOut(serializers.ModelSerializer):
    class Meta:
        model = LegalRequest
        fields = ["reference", "status"]


def _access(request: Request, reference: str) -> RequestAccess:
    return request_access_for_officer(officer=api_officer(request), reference=reference)


def _problem(refused: OfficerRefused, access: RequestAccess) -> Problem:
    extra: dict[str, Any] = {}
    if refused.code == "invalid_state":
        access.request.refresh_from_db(fields=["status"])
        extra["request_status"] = access.request.status
    return Problem(refused.code, refused.status, refused.message, **extra)


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)  # a ValidationError is 400 malformed
    data: dict[str, Any] = serializer.validated_data
    return data


SIGNED_REPLY_UPLOAD = inline_serializer(
    "SignedReplyUpload",
    {
        "envelope": serializers.FileField(
            help_text="The signed reply: {payload: {portal, nonce, signed_at, message: "
            "{reference, body, attachments}}, signature} (PROTOCOL §4.5)."
        ),
        "attachment": serializers.ListField(
            child=serializers.FileField(), help_text="One part per declared document."
        ),
    },
)


class SubmissionMessagesView(APIView):
    """The clarification thread of one submission with the platform's reviewers."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]
    # JSON for text; multipart only with a signed envelope (a garbled multipart body reads
    # as an empty form, which has no envelope and is refused: see SubmissionWithdrawView).
    parser_classes = [JSONParser, MultiPartParser]
    # Per officer and per address, on POST only (PROTOCOL §5.4); a refused reply stores nothing.
    throttle_classes = [ReplyRateLimits]

    @extend_schema(
        operation_id="submission_messages_list",
        responses={200: MessageOut(many=True), 401: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, reference: str) -> Response:
        access = _access(request, reference)
        return Response(MessageOut(messages_for_officer(access=access), many=True).data)

    @extend_schema(
        operation_id="submission_messages_create",
        request={"application/json": MessageIn, "multipart/form-data": SIGNED_REPLY_UPLOAD},
        responses={
            201: MessageOut,
            400: PROBLEM,
            401: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
            413: PROBLEM,
            415: PROBLEM,
            422: PROBLEM,
            429: PROBLEM,
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        access = _access(request, reference)
        if (request.content_type or "").startswith("multipart/"):
            return self._signed(request, access)
        data = _valid(MessageIn(data=request.data))
        try:
            message = authority_reply(access=access, body=data["body"])
        except OfficerRefused as refused:
            raise _problem(refused, access) from None
        return Response(MessageOut(message).data, status=status.HTTP_201_CREATED)

    def _signed(self, request: Request, access: RequestAccess) -> Response:
        """A reply with documents, signed as a submission is (PROTOCOL §4.5)."""
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.INTAKE_MAX_REQUEST_BYTES:
            raise Problem("too_large", 413, _("The request is larger than the protocol allows."))
        accepted = signed_reply_accept_api(
            access=access,
            raw_envelope=envelope_bytes(request),
            uploads=request.FILES.getlist("attachment"),
        )
        return Response(MessageOut(accepted.message).data, status=status.HTTP_201_CREATED)


class SubmissionReceiptView(APIView):
    """The portal's signed receipt of one submission, as a PDF to print (PROTOCOL §6.6)."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="submission_receipt_pdf",
        description=(
            "The receipt of §6.6 as `application/pdf`, with `Content-Disposition: attachment; "
            'filename="<reference>-receipt.pdf"`: every field of the JSON receipt, the '
            "signature and the portal key id printed in full, and the openssl commands that "
            "verify it from the printed fields. The submitter and the colleagues the request "
            "is shared with may download it; for anyone else the request is `404 not_found`."
        ),
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            401: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
        },
    )
    def get(self, request: Request, reference: str) -> HttpResponse:
        access = _access(request, reference)
        response = HttpResponse(receipt_pdf(access.request), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="{receipt_filename(access.request)}"'
        )
        add_never_cache_headers(response)
        return response


class SubmissionWithdrawView(APIView):
    """The authority withdraws its request (the submitting officer only)."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]
    # JSON only: Django reads a garbled multipart body as an empty form, which would
    # withdraw the request and drop the reason the authority meant to give.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="submission_withdraw",
        request=WithdrawIn,
        responses={
            200: WithdrawnOut,
            400: PROBLEM,
            401: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        access = _access(request, reference)
        data = _valid(WithdrawIn(data=request.data))
        try:
            withdrawn = authority_withdraw(access=access, reason=data["reason"])
        except OfficerRefused as refused:
            raise _problem(refused, access) from None
        return Response(WithdrawnOut(withdrawn).data)
