"""The accounts part of the API: who am I, for a case system testing its token."""

from typing import Any, cast

from django.conf import settings
from django.utils.cache import add_never_cache_headers
from django_countries.fields import Country
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.problems import PROBLEM_CONTENT_TYPE

from .authentication import IsActiveOfficer, api_officer
from .models import ApiToken, KeyStatus, Officer
from .services.keys import age_recipients_of_officer, signing_keys_of_officer

# --- OpenAPI: the two ways in ----------------------------------------------------------------


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ptk_ followed by 43 base64url characters",
            "description": (
                "An API token an officer created in the portal (Account, API tokens). "
                "Refused with 401 `unauthenticated` when unknown, expired or revoked, and "
                "with 403 `officer_not_active` or `agency_not_verified` when its officer "
                "or agency may not act."
            ),
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.VerifiedSessionAuthentication"
    name = "verifiedSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The portal's own web pages: a session that passed the second factor. "
                "Unsafe methods need the CSRF token."
            ),
        }


# --- Serializers ------------------------------------------------------------------------------


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField()
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document with the portal's stable ``code`` (PROTOCOL §5)."""

    type = serializers.CharField(help_text="urn:authority-portal:problem:<code>")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="The stable error code, e.g. `unauthenticated`.")
    # DRF's metaclass takes declared fields off the class, so these names do not shadow
    # Serializer.errors and Field.label at run time; mypy only sees the class body.
    errors = ProblemFieldErrorSerializer(many=True, required=False)  # type: ignore[assignment]


class AgencySummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2 code.")
    country_name = serializers.CharField()
    kind = serializers.CharField()


class SigningKeySummarySerializer(serializers.Serializer):
    key_id = serializers.CharField(help_text="`ed25519:` + hex SHA-256 of the raw public key.")
    status = serializers.ChoiceField(choices=KeyStatus.choices)
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField()


class AgeRecipientSummarySerializer(serializers.Serializer):
    recipient = serializers.CharField(help_text="The age X25519 recipient, `age1...`.")
    status = serializers.ChoiceField(choices=KeyStatus.choices)
    label = serializers.CharField(allow_blank=True)  # type: ignore[assignment]
    created_at = serializers.DateTimeField()


class TokenSummarySerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The first characters of the token.")
    expires_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.EmailField()
    title = serializers.CharField()
    agency = AgencySummarySerializer()
    signing_keys = SigningKeySummarySerializer(many=True)
    age_recipients = AgeRecipientSummarySerializer(many=True)
    authenticated_by = serializers.ChoiceField(choices=["api_token", "session"])
    token = TokenSummarySerializer(
        allow_null=True, help_text="The token this request used; null for a session."
    )


def officer_profile(*, officer: Officer, token: ApiToken | None) -> dict[str, Any]:
    """Return what ``GET /api/v1/me`` tells an officer about themselves."""
    country = cast(Country, officer.agency.country)
    return {
        "name": officer.user.full_name,
        "email": officer.user.email,
        "title": officer.title,
        "agency": {
            "name": officer.agency.name,
            "country": country.code,
            "country_name": str(country.name),
            "kind": officer.agency.kind,
        },
        "signing_keys": list(
            signing_keys_of_officer(officer=officer).values(
                "key_id", "status", "label", "created_at"
            )
        ),
        "age_recipients": list(
            age_recipients_of_officer(officer=officer).values(
                "recipient", "status", "label", "created_at"
            )
        ),
        "authenticated_by": "api_token" if token is not None else "session",
        "token": (
            {"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at}
            if token is not None
            else None
        ),
    }


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)


class MeView(APIView):
    permission_classes = [IsAuthenticated, IsActiveOfficer]

    @extend_schema(
        operation_id="me_retrieve",
        summary="Who am I",
        description=(
            "The officer behind the token (or session): name, agency, and the state of "
            "their signing keys and age recipients. A case system calls this to test its "
            "token; only keys in state `active` sign requests that are accepted, and "
            "responses are sealed only to `active` recipients."
        ),
        tags=["accounts"],
        responses={
            200: MeSerializer,
            (401, PROBLEM_CONTENT_TYPE): _problem(
                "`unauthenticated`: no token, or a token that is unknown, expired or revoked."
            ),
            (403, PROBLEM_CONTENT_TYPE): _problem(
                "`officer_not_active` or `agency_not_verified`: the token is valid but its "
                "officer or agency may not act; `forbidden` for a session of another role."
            ),
        },
        examples=[
            OpenApiExample(
                "An officer with one active key",
                response_only=True,
                value={
                    "name": "Anna Schmidt",
                    "email": "a.schmidt@polizei.example",
                    "title": "Kriminalhauptkommissarin",
                    "agency": {
                        "name": "Landeskriminalamt",
                        "country": "DE",
                        "country_name": "Germany",
                        "kind": "police",
                    },
                    "signing_keys": [
                        {
                            "key_id": "ed25519:21fe31dfa154a261626bf854046fd2271b7bed4b"
                            "6abe45aa58877ef47f9721b9",
                            "status": "active",
                            "label": "case system",
                            "created_at": "2026-11-02T09:30:00Z",
                        }
                    ],
                    "age_recipients": [
                        {
                            "recipient": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9a"
                            "qmcac8p",
                            "status": "active",
                            "label": "",
                            "created_at": "2026-11-02T09:35:00Z",
                        }
                    ],
                    "authenticated_by": "api_token",
                    "token": {
                        "name": "Case system",
                        "prefix": "ptk_Q2x9aB7c",
                        "expires_at": "2026-12-02T09:40:00Z",
                    },
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        officer = api_officer(request)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        response = Response(MeSerializer(officer_profile(officer=officer, token=token)).data)
        add_never_cache_headers(response)
        return response
