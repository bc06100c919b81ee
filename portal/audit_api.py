"""The audit log's API: signed tree heads and RFC 9162 proofs (docs/audit-log.md).

Public, to anyone, and without any event's content: the newest signed tree head, the
head of a given size, and the consistency proof between two sizes. An officer gets the
inclusion proof of an event about a request they may read (``request_list_for_officer``:
their own, or one a colleague shares with them); any other event, existing or not, is
``404 not_found``, so an event number says nothing about another officer's requests.
Every refusal is a problem document (portal/problems.py).
"""

from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import audit_tree
from .models import AuditTreeHead
from .problems import Problem
from .tree_heads import head_document

PROBLEM = OpenApiResponse(description="application/problem+json with a stable `code`")
# Sizes and numbers beyond 2**53 are refused as malformed (JSON numbers stay exact).
MAX_NUMBER = 2**53 - 1
# A head of a given size and a proof between two sizes never change.
IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5"
# How long to wait before asking again for an event the sequencer has not signed yet.
NOT_YET_RETRY_AFTER = 10

RFC3161 = inline_serializer(
    "AuditTimestamp",
    {
        "tsa_url": serializers.CharField(help_text="The time-stamping authority asked."),
        "response": serializers.CharField(
            help_text="Base64 of the DER TimeStampResp over SHA-256 of the head's signature."
        ),
    },
    allow_null=True,
)

TREE_HEAD = inline_serializer(
    "AuditTreeHead",
    {
        "tree_size": serializers.IntegerField(help_text="Number of events in the tree."),
        "root_hash": serializers.CharField(help_text="RFC 9162 root hash, lowercase hex."),
        "timestamp": serializers.CharField(help_text="When it was signed, RFC 3339 UTC."),
        "alg": serializers.CharField(help_text="Always `ed25519`."),
        "key_id": serializers.CharField(help_text="The portal key (GET /api/v1/portal-key)."),
        "signature": serializers.CharField(
            help_text="Base64 Ed25519 signature over the RFC 8785 encoding of "
            "`{root_hash, timestamp, tree_size}`."
        ),
        "rfc3161": RFC3161,
    },
)

CONSISTENCY = inline_serializer(
    "AuditConsistencyProof",
    {
        "first": serializers.IntegerField(),
        "second": serializers.IntegerField(),
        "proof": serializers.ListField(
            child=serializers.CharField(),
            help_text="RFC 9162 §2.1.4 consistency proof, node hashes in lowercase hex.",
        ),
    },
)

INCLUSION = inline_serializer(
    "AuditInclusionProof",
    {
        "event": serializers.IntegerField(help_text="The event's number (`seq`)."),
        "action": serializers.CharField(),
        "created_at": serializers.CharField(help_text="RFC 3339 UTC."),
        "leaf_index": serializers.IntegerField(help_text="Its position in the tree, from 0."),
        "leaf_hash": serializers.CharField(
            help_text="SHA-256(0x00 || RFC 8785 of the event), lowercase hex."
        ),
        "tree_size": serializers.IntegerField(),
        "audit_path": serializers.ListField(
            child=serializers.CharField(),
            help_text="RFC 9162 §2.1.3 inclusion proof, bottom up, lowercase hex.",
        ),
        "tree_head": TREE_HEAD,
    },
)


INCLUSION_PATH_PREFIX = "/api/v1/audit/inclusion?event="


def inclusion_path(seq: int) -> str:
    """Where an officer gets the inclusion proof of event ``seq`` (PROTOCOL §4.11)."""
    return f"{INCLUSION_PATH_PREFIX}{seq}"


class AuditTreeHeadQuery(serializers.Serializer):
    size = serializers.IntegerField(
        min_value=0, max_value=MAX_NUMBER, help_text="The tree size of the head wanted."
    )


class AuditConsistencyQuery(serializers.Serializer):
    first = serializers.IntegerField(
        min_value=1, max_value=MAX_NUMBER, help_text="The older tree size (at most second)."
    )
    second = serializers.IntegerField(
        min_value=1,
        max_value=MAX_NUMBER,
        help_text="The newer tree size, at most the newest signed head's.",
    )

    def validate(self, attrs: dict[str, int]) -> dict[str, int]:
        if attrs["first"] > attrs["second"]:
            raise serializers.ValidationError({"first": gettext("first must not exceed second.")})
        return attrs


def _query(serializer: serializers.Serializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)  # 400 malformed, with the fields
    data: dict[str, Any] = serializer.validated_data
    return data


def _head_response(head: AuditTreeHead, cache: str) -> Response:
    response = Response(head_document(head))
    response["Cache-Control"] = cache
    return response


def _latest() -> AuditTreeHead:
    head = audit_tree.latest_head()
    if head is None:
        raise Problem("not_found", 404, gettext("No tree head has been signed yet."))
    return head


class AuditTreeHeadLatestView(APIView):
    """The newest signed tree head of the audit log."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="audit_tree_head_latest",
        tags=["audit"],
        responses={200: TREE_HEAD, 404: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        return _head_response(_latest(), LATEST)


class AuditTreeHeadView(APIView):
    """The signed tree head of a given size."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="audit_tree_head",
        tags=["audit"],
        parameters=[AuditTreeHeadQuery],
        responses={200: TREE_HEAD, 400: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        size = _query(AuditTreeHeadQuery(data=request.query_params))["size"]
        head = audit_tree.head_of_size(size)
        if head is None:
            raise Problem("not_found", 404, gettext("No tree head of this size was signed."))
        return _head_response(head, IMMUTABLE)


class AuditConsistencyView(APIView):
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` events."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []

    @extend_schema(
        operation_id="audit_consistency",
        tags=["audit"],
        parameters=[AuditConsistencyQuery],
        responses={200: CONSISTENCY, 400: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        query = _query(AuditConsistencyQuery(data=request.query_params))
        first, second = query["first"], query["second"]
        if second > _latest().tree_size:
            raise Problem(
                "not_found", 404, gettext("The newest signed tree head is smaller than second.")
            )
        proof = audit_tree.consistency_path(first, second)
        response = Response(
            {"first": first, "second": second, "proof": [digest.hex() for digest in proof]}
        )
        response["Cache-Control"] = IMMUTABLE
        return response
