"""Bare DRF endpoints that write what intake writes, with none of intake's checks.

The benchmark posts the same multipart bodies here as to ``/api/v1/submissions``; the
difference in throughput is what the checks cost: the bearer token, three rate limits,
the strict schema, RFC 8785, the Ed25519 signature, audience, clock and nonce, the
attachment's size, hash and PDF structure, and the jurisdiction policy.

- ``BareInsertView`` (``/api/bench/bare``) does everything the real endpoint does once every
  check has passed: the same rows (request, targets, attachment sealed to the storage key, audit
  event) in one transaction, and the signed receipt.
- ``BareRowView`` (``/api/bench/bare-row``) inserts the ``LegalRequest`` row and nothing else:
  the floor, for comparison.
"""

import hashlib
import json
import secrets
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Officer
from portal import crypto
from portal.audit import audit_append
from requests_app.lifecycle.models import Attachment, LegalRequest, RequestTarget

DEADLINE = timedelta(days=10)


def _reference(now: datetime) -> str:
    return f"LR-{now:%Y}-{secrets.token_hex(4).upper()}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _Bare(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    parser_classes = [MultiPartParser]

    def _request_row(self, envelope: dict[str, Any], officer: Officer, now: datetime, **extra):
        payload = envelope["payload"]
        body = payload["request"]
        return LegalRequest.objects.create(
            agency_id=officer.agency_id,
            officer=officer,
            channel="api",
            kind=body["kind"],
            emergency=body["kind"] == "emergency",
            country=officer.agency.country,
            case_reference=body["case_reference"],
            offence=body["offence"],
            data_categories=body["data_categories"],
            period_from=body["period"]["from"],
            period_to=body["period"]["to"],
            payload=payload,
            signature=envelope["signature"],
            key_id=envelope["signature"]["key_id"],
            nonce=payload["nonce"],
            signed_at=now,
            signature_verified_at=now,
            received_at=now,
            due_at=now + DEADLINE,
            **extra,
        )

    def _officer(self) -> Officer:
        # The run's settings module (only bench.settings routes to these endpoints), read
        # as a module: django-stubs types ``django.conf.settings`` as the portal's.
        from bench.settings import BENCH_OFFICER_ID

        return Officer.objects.select_related("user", "agency").get(pk=BENCH_OFFICER_ID)


class BareRowView(_Bare):
    """Insert one ``LegalRequest`` row from the envelope."""

    def post(self, request: Request) -> Response:
        envelope = json.loads(request.FILES["envelope"].read())
        now = timezone.now()
        row = self._request_row(
            envelope,
            self._officer(),
            now,
            reference=_reference(now),
            payload_sha256="",
            envelope_sha256="",
            receipt={},
        )
        return Response({"reference": row.reference}, status=201)


class BareInsertView(_Bare):
    """Write what intake writes for an accepted submission, without checking anything."""

    def post(self, request: Request) -> Response:
        raw = request.FILES["envelope"].read()
        envelope = json.loads(raw)
        upload = request.FILES["attachment"]
        officer = self._officer()
        now = timezone.now()
        payload_sha256 = hashlib.sha256(json.dumps(envelope["payload"]).encode()).hexdigest()
        declared = envelope["payload"]["request"]["attachments"][0]
        reference = _reference(now)
        receipt = crypto.portal_receipt(
            reference=reference, payload_sha256=payload_sha256, received_at=_rfc3339(now)
        )
        with transaction.atomic():
            row = self._request_row(
                envelope,
                officer,
                now,
                reference=reference,
                payload_sha256=payload_sha256,
                envelope_sha256=hashlib.sha256(raw).hexdigest(),
                receipt=receipt,
            )
            RequestTarget.objects.bulk_create(
                [
                    RequestTarget(request=row, type=t["type"], value=t["value"])
                    for t in envelope["payload"]["request"]["targets"]
                ]
            )
            # Stored as intake stores it: sealed to the storage key, under a random name.
            with tempfile.TemporaryFile() as sealed:
                crypto.storage_seal(upload, sealed)
                sealed.seek(0)
                name = default_storage.save(f"attachments/{uuid.uuid4().hex}.age", File(sealed))
            Attachment.objects.create(
                request=row,
                filename=declared["filename"],
                media_type=declared["media_type"],
                sha256=declared["sha256"],
                size=declared["size"],
                file=name,
            )
            audit_append(
                actor=officer.user,
                action="bench.bare_insert",
                target=row,
                data={"reference": row.reference, "payload_sha256": payload_sha256},
            )
        return Response(
            {"reference": row.reference, "status": row.status, "receipt": row.receipt},
            status=201,
        )
