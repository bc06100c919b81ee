"""The plaintext of a response: response.json (RFC 8785 bytes) and its portal signature."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import rfc8785
from django.conf import settings

from portal import crypto

from ..models import Disclosure
from ..sources.base import TargetRecords


def response_document(
    disclosure: Disclosure, records: list[TargetRecords], issued_at: datetime
) -> dict[str, Any]:
    decision = disclosure.decision
    request = disclosure.request
    return {
        "portal": settings.PORTAL_AUDIENCE,
        "reference": request.reference,
        "case_reference": request.case_reference,
        "decision": {
            "outcome": decision.outcome,
            "categories": sorted(decision.approved_categories),
            "period": {
                "from": str(decision.approved_period_from),
                "to": str(decision.approved_period_to),
            },
        },
        "records": [
            {"target": asdict(r.target), "found": r.found, "records": r.records} for r in records
        ],
        "issued_at": issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": disclosure.note_to_authority or decision.message_to_authority,
        "signed_by": crypto.portal_public_key_document()["key_id"],
    }


def response_files(document: dict[str, Any]) -> tuple[bytes, bytes]:
    """``response.json`` as its canonical bytes, and the portal's signature over them.

    The file is stored in canonical form, so ``openssl pkeyutl -verify -rawin -in
    response.json -sigfile response.json.sig`` checks it as it is.
    """
    body = rfc8785.dumps(document)
    return body, crypto.portal_sign(body)
