"""The certificate of authenticity in every sealed response (``certificate.pdf``, PROTOCOL §6.8).

Courts ask for the records custodian's declaration that produced records are authentic,
not only for a signature. The certificate names the platform, the request (its reference
and the authority that sent it), each record set and each file produced with its SHA-256,
the date, and the custodian (the reviewer who confirmed the decision) with their role,
under the statement the platform's legal team sets for the authority's country
(``policy.selectors.certificate_statement``).

It is rendered once, while sealing, from ``templates/requests_app/delivery/certificate.html``;
its size and SHA-256 go into ``response.json`` (``certificate``), which the portal signs,
so the signature covers the certificate too.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django_countries import countries

from portal.pdf import pdf_render
from requests_app.delivery.document import ArchiveFile
from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.models import DataCategory, TargetType
from requests_app.policy.selectors import certificate_statement
from requests_app.sources.base import TargetRecords

CERTIFICATE_NAME = "certificate.pdf"
CERTIFICATE_MEDIA_TYPE = "application/pdf"


def records_sha256(value: Any) -> str:
    """The SHA-256 of one category's records as ``response.json`` holds them (RFC 8785)."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


@dataclass(frozen=True)
class Certificate:
    """The certificate's bytes and what ``response.json`` says of them."""

    data: bytes

    def listing(self) -> dict[str, Any]:
        return {
            "name": CERTIFICATE_NAME,
            "media_type": CERTIFICATE_MEDIA_TYPE,
            "size": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
        }


def _issuing_authority(payload: Any) -> str:
    issuer = (
        payload.get("request", {}).get("issuing_authority") if isinstance(payload, dict) else None
    )
    if not isinstance(issuer, dict):
        return ""
    name, role = str(issuer.get("name", "")), str(issuer.get("role", ""))
    return f"{name} ({role})" if role else name


def certificate_context(
    disclosure: Disclosure,
    records: list[TargetRecords],
    layout: list[list[ArchiveFile]],
    issued_at: datetime,
) -> dict[str, Any]:
    """Everything the certificate states, from what was sealed and who decided."""
    request = disclosure.request
    decision = disclosure.decision
    custodian = decision.confirmed_by or decision.proposed_by
    categories = dict(DataCategory.choices)
    target_types = dict(TargetType.choices)
    produced = []
    for answer, files in zip(records, layout, strict=True):
        produced.append(
            {
                "target": f"{target_types.get(answer.target.type, answer.target.type)}: "
                f"{answer.target.value}",
                "found": answer.found,
                "records": [
                    {
                        "category": categories.get(category, category),
                        "count": len(value) if isinstance(value, list) else 1,
                        "sha256": records_sha256(value),
                    }
                    for category, value in answer.records.items()
                ],
                "files": [
                    {"name": placed.path, "size": placed.file.size, "sha256": placed.file.sha256}
                    for placed in files
                ],
            }
        )
    return {
        "platform": settings.PLATFORM_NAME,
        "portal": settings.PORTAL_AUDIENCE,
        "reference": request.reference,
        "case_reference": request.case_reference,
        "agency": request.agency.name,
        "country": countries.name(str(request.country)),
        "issuing_authority": _issuing_authority(request.payload),
        "received_at": request.received_at,
        "decided_at": decision.confirmed_at or decision.proposed_at,
        "outcome": decision.get_outcome_display(),
        "issued_at": issued_at,
        "produced": produced,
        "custodian_name": custodian.full_name,
        "custodian_role": _("%(role)s, who confirmed the decision")
        % {"role": custodian.get_role_display()},
        "statement": certificate_statement(country=str(request.country)),
    }


def certificate_render(
    disclosure: Disclosure,
    records: list[TargetRecords],
    layout: list[list[ArchiveFile]],
    issued_at: datetime,
) -> Certificate:
    """The certificate of a response, in the portal's language (settings.LANGUAGE_CODE)."""
    with translation.override(settings.LANGUAGE_CODE):
        context = certificate_context(disclosure, records, layout, issued_at)
        return Certificate(pdf_render("requests_app/delivery/certificate.html", context))
