"""The sealed-response API (PROTOCOL §4 and §6): metadata of a request's responses, downloads.

Both endpoints are for active officers of verified agencies (a bearer token, or a
browser session with a verified second factor). A response is reached only through
``selectors.sealed_response_get_for_officer``: a stranger gets 404 whether it exists or
not; an entitled officer asking for an expired or purged file gets 410 ``gone``.
"""

import base64
from typing import Any

from django.http import FileResponse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import IsActiveOfficer, api_officer
from accounts.models import ApiToken
from portal.http import client_ip
from portal.problems import Problem
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.selectors import (
    sealed_response_get_for_officer,
    sealed_responses_for_request,
)
from requests_app.delivery.services import (
    SealedDownload,
    SealedResponseGone,
    sealed_response_download,
)

PROBLEM = OpenApiResponse(description="application/problem+json with a stable `code`")
# Bytes per read when the server streams a sealed file itself (without sendfile).
STREAM_BLOCK_SIZE = 256 * 1024


class SealedResponseMetadata(serializers.ModelSerializer):
    available = serializers.BooleanField(
        read_only=True, help_text="Whether the file can be downloaded now."
    )
    recipients = serializers.ListField(
        child=serializers.CharField(),
        help_text="The age recipients (age1...) it was sealed to; "
        "the identity of any one of them opens it.",
    )

    class Meta:
        model = SealedResponse
        fields = ["id", "size", "sha256", "created_at", "expires_at", "available", "recipients"]
        extra_kwargs = {
            "size": {"help_text": "Bytes of the sealed (age) file."},
            "sha256": {"help_text": "Lowercase hex SHA-256 of the sealed file."},
            "expires_at": {"help_text": "From this time the file is no longer served."},
        }


class AnyAccept(BaseContentNegotiation):
    """The file is ``application/octet-stream`` whatever the client's ``Accept`` says.

    Without this, ``Accept: application/octet-stream`` (what a download client may well
    send) would be refused with 406 before the view runs; refusals stay problem+json.
    """

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


def sealed_file_response(download: SealedDownload) -> FileResponse:
    """Stream a sealed file as an attachment, with its size and SHA-256 in the headers."""
    response = FileResponse(
        download.file,
        as_attachment=True,
        filename=download.filename,
        content_type="application/octet-stream",
    )
    response.block_size = STREAM_BLOCK_SIZE
    digest = base64.b64encode(bytes.fromhex(download.sealed.sha256)).decode("ascii")
    response["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530
    add_never_cache_headers(response)
    return response


class SubmissionResponsesView(APIView):
    """The sealed responses to one of your requests: metadata only, never content."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]

    @extend_schema(
        operation_id="submissions_responses_list",
        responses={
            200: SealedResponseMetadata(many=True),
            401: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
        },
    )
    def get(self, request: Request, reference: str) -> Response:
        responses = sealed_responses_for_request(officer=api_officer(request), reference=reference)
        return Response(SealedResponseMetadata(responses, many=True).data)


class ResponseDownloadView(APIView):
    """Download a sealed response: the age file, exactly as stored. Every download is audited."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="responses_download",
        description=(
            "The sealed file (age format, X25519 recipients) as `application/octet-stream`, "
            'with `Content-Disposition: attachment; filename="<reference>.age"` and '
            "`Repr-Digest` (RFC 9530) carrying its SHA-256. Decrypt with "
            "`age -d -i identity.txt <reference>.age > r.zip`. Every download is an audit "
            "event and counts. A response past its expiry, or purged, is `410 gone`."
        ),
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            401: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
            410: PROBLEM,
        },
    )
    def get(self, request: Request, response_id: int) -> FileResponse:
        officer = api_officer(request)
        sealed = sealed_response_get_for_officer(officer=officer, response_id=response_id)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        try:
            download = sealed_response_download(
                sealed=sealed,
                officer=officer,
                channel="api",
                ip=client_ip(request._request),
                token=token,
            )
        except SealedResponseGone as gone:
            raise Problem("gone", 410, str(gone)) from None
        return sealed_file_response(download)
