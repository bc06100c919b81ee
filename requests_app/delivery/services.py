"""Hand a sealed file to an officer: every download counted and audited, expired files refused.

The caller has already passed the gatekeeper (``selectors.sealed_response_get_for_officer``);
this decides only whether the file may still be served, and records that it was.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import ApiToken, Officer
from portal.audit import audit_append
from requests_app.delivery.models import SealedResponse

logger = logging.getLogger(__name__)


class SealedResponseGone(Exception):
    """The sealed file has expired or was purged: nothing can be served (410)."""


@dataclass(frozen=True)
class SealedDownload:
    """An open sealed file, ready to stream, and the name the officer saves it under."""

    sealed: SealedResponse
    file: File
    filename: str


def sealed_response_download(
    *,
    sealed: SealedResponse,
    officer: Officer,
    channel: str,
    ip: str | None = None,
    token: ApiToken | None = None,
) -> SealedDownload:
    """Open a sealed file for an entitled officer and record the download.

    The row is locked while the file is opened, so a purge running at the same moment
    either finishes first (and the download is refused) or waits until the download is
    recorded. A download counts when it starts: the bytes are ciphertext, and a transfer
    the officer breaks off is simply downloaded again.
    """
    handle: File | None = None
    try:
        with transaction.atomic():
            locked = (
                SealedResponse.objects.select_for_update(of=("self",))
                .select_related("request")
                .get(pk=sealed.pk)
            )
            if not locked.available:
                raise SealedResponseGone(_("The response has expired and is no longer available."))
            try:
                if not locked.file.name:
                    raise FileNotFoundError
                opened = locked.file.storage.open(locked.file.name, "rb")
            except OSError:
                # A row without its file (storage lost it, or an operator removed it).
                logger.exception("Sealed response %s has no file in storage", locked.pk)
                raise SealedResponseGone(_("The sealed file is not available.")) from None
            handle = opened
            before = locked.download_count
            locked.download_count = before + 1
            locked.save(update_fields=["download_count"])
            data: dict[str, Any] = {
                "reference": locked.request.reference,
                "sealed_response_id": locked.pk,
                "sha256": locked.sha256,
                "size": locked.size,
                "channel": channel,
                "ip": ip,
                "before": {"download_count": before},
                "after": {"download_count": locked.download_count},
            }
            if token is not None:
                data["api_token"] = {"id": token.pk, "prefix": token.prefix}
            audit_append(
                actor=officer.user, action="response.downloaded", target=locked.request, data=data
            )
    except BaseException:
        if handle is not None:
            handle.close()
        raise
    return SealedDownload(sealed=locked, file=opened, filename=f"{locked.request.reference}.age")
