"""What an officer does to a request they reached through the gate: reply, withdraw.

Both take a ``RequestAccess`` (only ``selectors.request_access_for_officer`` makes one),
so a stranger never gets this far. The state change itself is the review services' (one
transition table for both sides); this layer adds the officer's rights and tells the
reviewer who handles the request.
"""

from django.db import transaction

from requests_app.lifecycle.access import RequestAccess
from requests_app.lifecycle.models import LegalRequest, Message
from requests_app.lifecycle.notify import (
    AUTHORITY_WROTE,
    REQUEST_WITHDRAWN,
    notify_on_commit,
    reviewer_addresses,
)
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.review.services import ReviewRefused, message_from_authority, request_withdraw

MAX_MESSAGE_LENGTH = 10_000
MAX_REASON_LENGTH = 500


def authority_reply(*, access: RequestAccess, body: str) -> Message:
    """Write in the clarification thread; an awaited answer restarts the deadline clock."""
    if not access.may_reply:
        raise OfficerRefused("You may not write on this request.", code="forbidden")
    body = body.strip()
    if not body:
        raise OfficerRefused("Write your message.", code="malformed")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise OfficerRefused(
            f"A message has at most {MAX_MESSAGE_LENGTH} characters.", code="malformed"
        )
    with transaction.atomic():
        try:
            message = message_from_authority(
                request=access.request, officer=access.officer, body=body
            )
        except ReviewRefused as refused:
            raise OfficerRefused(str(refused)) from None
        notify_on_commit(reviewer_addresses(access.request), AUTHORITY_WROTE)
    return message


def authority_withdraw(*, access: RequestAccess, reason: str = "") -> LegalRequest:
    """Withdraw the request (the submitter only); a second withdrawal is refused."""
    if not access.may_withdraw:
        raise OfficerRefused(
            "Only the officer who submitted the request can withdraw it.", code="forbidden"
        )
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise OfficerRefused(
            f"A reason has at most {MAX_REASON_LENGTH} characters.", code="malformed"
        )
    with transaction.atomic():
        try:
            request = request_withdraw(
                request=access.request, officer=access.officer, reason=reason
            )
        except ReviewRefused as refused:
            raise OfficerRefused(str(refused)) from None
        notify_on_commit(reviewer_addresses(request), REQUEST_WITHDRAWN)
    return request
