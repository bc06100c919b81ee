"""The audit events of the officer's own requests, and the inclusion proof of each.

The audit log itself (portal.audit_tree) knows nothing of requests; these endpoints,
``/api/v1/submissions/{reference}/audit-events`` and ``/api/v1/audit/inclusion``, answer
only for events whose target is a request the officer may read (``lifecycle.access``),
and "not found" for every other request or event (PROTOCOL §4.11). Neither gives an
event's content (its actor, its data): only its number, action, time and leaf.
"""

from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import IsActiveOfficer, api_officer
from portal import audit_tree
from portal.audit import canonical_time
from portal.audit_api import (
    INCLUSION,
    MAX_NUMBER,
    NOT_YET_RETRY_AFTER,
    PROBLEM,
    _query,
    inclusion_path,
)
from portal.models import AuditEvent
from portal.problems import Problem
from portal.tree_heads import head_document
from requests_app.lifecycle.access import request_get_for_officer, request_list_for_officer
from requests_app.lifecycle.models import LegalRequest


class AuditInclusionQuery(serializers.Serializer):
    event = serializers.IntegerField(
        min_value=1, max_value=MAX_NUMBER, help_text="The event's number (`seq`)."
    )
    tree_size = serializers.IntegerField(
        min_value=1,
        max_value=MAX_NUMBER,
        required=False,
        help_text="Prove against the signed head of this size (default: the newest).",
    )


def _event_for_officer(request: Request, seq: int) -> AuditEvent:
    officer = api_officer(request)
    readable = (
        request_list_for_officer(officer=officer)
        .order_by()
        .annotate(pk_text=Cast("pk", CharField()))
        .values("pk_text")
    )
    event = (
        AuditEvent.objects.select_related("leaf")
        .filter(seq=seq, target_type=LegalRequest._meta.label_lower, target_id__in=readable)
        .first()
    )
    if event is None:
        raise Problem("not_found", 404, _("There is no such event about a request of yours."))
    return event


class AuditInclusionView(APIView):
    """The RFC 9162 inclusion proof of an event about one of the officer's requests."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]

    @extend_schema(
        operation_id="audit_inclusion",
        tags=["audit"],
        parameters=[AuditInclusionQuery],
        responses={200: INCLUSION, 400: PROBLEM, 404: PROBLEM, 409: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        query = _query(AuditInclusionQuery(data=request.query_params))
        event = _event_for_officer(request, query["event"])
        leaf = getattr(event, "leaf", None)
        if "tree_size" in query:
            head = audit_tree.head_of_size(query["tree_size"])
            if head is None:
                raise Problem("not_found", 404, _("No tree head of this size was signed."))
        else:
            head = audit_tree.latest_head()
        if leaf is None or head is None or leaf.index >= head.tree_size:
            problem = Problem(
                "invalid_state",
                409,
                _("The event is not in a signed tree head yet; ask again in a few seconds."),
                retry_after=NOT_YET_RETRY_AFTER,
            )
            problem.headers["Retry-After"] = str(NOT_YET_RETRY_AFTER)
            raise problem
        path = audit_tree.audit_path(leaf.index, head.tree_size)
        return Response(
            {
                "event": event.seq,
                "action": event.action,
                "created_at": canonical_time(event.created_at),
                "leaf_index": leaf.index,
                "leaf_hash": leaf.hash,
                "tree_size": head.tree_size,
                "audit_path": [digest.hex() for digest in path],
                "tree_head": head_document(head),
            }
        )


AUDIT_EVENT = inline_serializer(
    "RequestAuditEvent",
    {
        "event": serializers.IntegerField(help_text="The event's number (`seq`)."),
        "action": serializers.CharField(),
        "created_at": serializers.CharField(help_text="RFC 3339 UTC."),
        "leaf_index": serializers.IntegerField(
            allow_null=True,
            help_text="Its position in the tree, from 0; null until the sequencer placed it.",
        ),
        "leaf_hash": serializers.CharField(
            allow_null=True, help_text="SHA-256(0x00 || RFC 8785 of the event), lowercase hex."
        ),
        "inclusion": serializers.CharField(help_text="The path of its inclusion proof."),
    },
    many=True,
)


class RequestAuditEventsView(APIView):
    """The audit events of one of the officer's requests, with their positions in the tree."""

    permission_classes = [IsAuthenticated, IsActiveOfficer]

    @extend_schema(
        operation_id="submission_audit_events",
        tags=["audit"],
        responses={200: AUDIT_EVENT, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, reference: str) -> Response:
        legal_request = request_get_for_officer(officer=api_officer(request), reference=reference)
        events = (
            AuditEvent.objects.filter(
                target_type=LegalRequest._meta.label_lower, target_id=str(legal_request.pk)
            )
            .select_related("leaf")
            .order_by("seq")
        )
        answer = []
        for event in events:
            leaf = getattr(event, "leaf", None)
            answer.append(
                {
                    "event": event.seq,
                    "action": event.action,
                    "created_at": canonical_time(event.created_at),
                    "leaf_index": leaf.index if leaf is not None else None,
                    "leaf_hash": leaf.hash if leaf is not None else None,
                    "inclusion": inclusion_path(event.seq),
                }
            )
        return Response(answer)
