"""The portal's receipt of a submission as a PDF that can be printed and filed.

The same fields as the signed JSON receipt (PROTOCOL §6.6), the signature and the portal
key's id printed in full, and the commands that verify it with openssl: the signed bytes
are rebuilt from the printed fields with ``printf``, so a clerk holding only the paper
(and the pinned portal key) can check it.
"""

from typing import Any

from django.conf import settings
from django.utils import timezone, translation

from portal.pdf import pdf_render
from requests_app.lifecycle.models import LegalRequest

RECEIPT_FIELDS = ("reference", "payload_sha256", "received_at", "alg", "key_id", "signature")


def receipt_context(request: LegalRequest) -> dict[str, Any]:
    receipt = request.receipt
    return {
        "portal": settings.PORTAL_AUDIENCE,
        "receipt": {field: str(receipt.get(field, "")) for field in RECEIPT_FIELDS},
        # Unsigned pointers to the receipt's audit event (PROTOCOL §6.6); absent before 1.3.
        "audit_event": receipt.get("audit_event"),
        "audit_inclusion": receipt.get("audit_inclusion", ""),
        "printed_at": timezone.now(),
    }


def receipt_pdf(request: LegalRequest) -> bytes:
    """The receipt of ``request`` as a PDF, in the active language."""
    with translation.override(translation.get_language() or settings.LANGUAGE_CODE):
        return pdf_render("requests_app/officer/receipt.html", receipt_context(request))


def receipt_filename(request: LegalRequest) -> str:
    return f"{request.reference}-receipt.pdf"
