"""The officer's pages for sealed responses: the list with size, SHA-256 and expiry; downloads;
the page that opens a response in the officer's browser.

For officers with a verified second factor (the standing middleware checks the session,
``role_required`` the role). A response is reached only through the gatekeeper
(``selectors.sealed_response_get_for_officer``), so a stranger gets 404.

The download is a POST with the CSRF token, not a link: it changes the record (the
count and an audit event), and a GET could be set off by a link prefetch or by another
site's top-level navigation, writing downloads the officer never made.
"""

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthedRequest, page_officer, role_required
from accounts.models import Role
from portal import crypto
from portal.http import client_ip
from requests_app.delivery.api import sealed_file_response
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.selectors import (
    sealed_response_get_for_officer,
    sealed_response_list_for_officer,
)
from requests_app.delivery.services import SealedResponseGone, sealed_response_download
from requests_app.lifecycle.models import DataCategory, DecisionOutcome, TargetType
from requests_app.lifecycle.scope import COLUMN_LABELS

PAGE_SIZE = 50

officer_only = role_required(Role.OFFICER)


@officer_only
@never_cache
@require_GET
def response_list(request: AuthedRequest) -> HttpResponse:
    """The sealed responses to the officer's requests, with what they need to check a file."""
    responses = sealed_response_list_for_officer(officer=page_officer(request))
    page = Paginator(responses, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "requests_app/delivery/list.html",
        {"page": page, "responses": page.object_list},
    )


@officer_only
@never_cache
@require_POST
def response_download(request: AuthedRequest, response_id: int) -> HttpResponseBase:
    """Serve the sealed file (ciphertext) as ``<reference>.age``; 410 once it has expired."""
    officer = page_officer(request)
    sealed = sealed_response_get_for_officer(officer=officer, response_id=response_id)
    try:
        download = sealed_response_download(
            sealed=sealed, officer=officer, channel="web", ip=client_ip(request)
        )
    except SealedResponseGone:
        return render(request, "requests_app/delivery/gone.html", {"sealed": sealed}, status=410)
    return sealed_file_response(download)


def _decrypt_config(request: AuthedRequest, sealed: SealedResponse) -> dict[str, Any]:
    """What the page's script needs: where the file is, what it must be, how to show it."""
    portal_key = crypto.portal_public_key_document()
    return {
        "reference": sealed.request.reference,
        "download_url": reverse("response-download", args=[sealed.pk]),
        "csrf_token": get_token(request),
        "size": sealed.size,
        "sha256": sealed.sha256,
        "recipients": sealed.recipients,
        "portal_key": {
            "key_id": portal_key["key_id"],
            "public_key_pem": portal_key["public_key_pem"],
        },
        "labels": {
            "categories": dict(DataCategory.choices),
            "outcomes": dict(DecisionOutcome.choices),
            "target_types": dict(TargetType.choices),
            "columns": COLUMN_LABELS,
        },
    }


@officer_only
@never_cache
@require_GET
def response_decrypt(request: AuthedRequest, response_id: int) -> HttpResponse:
    """The page that opens a sealed response in the browser with the officer's identity file.

    Nothing is decrypted on the server, which cannot: the page's script downloads the
    sealed file (the audited download above, with the session) and opens it in the
    page. The identity file is read there and never sent; opening this page downloads
    nothing and records nothing.
    """
    officer = page_officer(request)
    sealed = sealed_response_get_for_officer(officer=officer, response_id=response_id)
    if not sealed.available:
        return render(request, "requests_app/delivery/gone.html", {"sealed": sealed}, status=410)
    return render(
        request,
        "requests_app/delivery/decrypt.html",
        {"sealed": sealed, "config": _decrypt_config(request, sealed)},
    )
