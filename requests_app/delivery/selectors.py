"""Reads of sealed responses that carry a permission decision: the only way to reach one.

A sealed response is visible exactly when its request is: the request's gatekeeper
(``requests_app.lifecycle.access``) decides, and these functions never widen it. A stranger
gets "not found", whether the response exists or not.
"""

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Officer
from requests_app.delivery.models import SealedResponse
from requests_app.lifecycle.access import (
    RequestAccess,
    request_access_for_officer,
    request_get_for_officer,
    request_list_for_officer,
)


def sealed_response_list_for_officer(*, officer: Officer) -> QuerySet[SealedResponse]:
    """The sealed responses to every request the officer may read, newest first."""
    return (
        SealedResponse.objects.filter(request__in=request_list_for_officer(officer=officer))
        .select_related("request")
        .order_by("-created_at", "-pk")
    )


def sealed_responses_for_request(*, officer: Officer, reference: str) -> QuerySet[SealedResponse]:
    """The sealed responses to one request the officer may read; else "not found"."""
    return sealed_responses_for_access(
        access=request_access_for_officer(officer=officer, reference=reference)
    )


def sealed_responses_for_access(*, access: RequestAccess) -> QuerySet[SealedResponse]:
    """The sealed responses to a request the officer already reached through the gate."""
    return (
        SealedResponse.objects.filter(request_id=access.request.pk)
        .select_related("request")
        .order_by("-created_at", "-pk")
    )


def sealed_response_get_for_officer(*, officer: Officer, response_id: int) -> SealedResponse:
    """One sealed response to a request the officer may read; any other is "not found".

    Expired and purged responses are returned too: whether the file can still be served
    is the download's question (410), asked only once the officer is known to be entitled.
    """
    sealed = SealedResponse.objects.select_related("request").filter(pk=response_id).first()
    if sealed is None:
        raise Http404
    # The request's own gate: raises Http404 for anyone who may not read the request.
    request_get_for_officer(officer=officer, reference=sealed.request.reference)
    return sealed
