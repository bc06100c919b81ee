"""Real requests for the officer-side tests (officer/, lifecycle/): submitted through the API.

Requests are signed and submitted through the API (``tests.requests_app.signing``), so
they hold what intake stores, not what a factory guesses.
"""

from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import Officer, Role
from portal.models import AuditEvent
from requests_app.lifecycle.models import LegalRequest, Message, RequestShare
from tests.factories import log_in, make_api_token, make_user
from tests.requests_app.signing import enrol_signing_key, post_envelope, submission


def submitted(officer: Officer, **request_overrides) -> LegalRequest:
    """Submit a real signed request through the API as ``officer``; return it."""
    cache.clear()  # the intake rate limits count across tests in one process
    signer = enrol_signing_key(officer)
    _, secret = make_api_token(officer=officer)
    if request_overrides.get("kind") in ("preservation", "emergency"):
        request_overrides.setdefault("files", [])
    sub = submission(**request_overrides)
    response = post_envelope(Client(), sub.sign(signer), sub.files, secret)
    assert response.status_code == 201, response.content
    mail.outbox.clear()
    return LegalRequest.objects.get(reference=response.json()["reference"])


# The document the reviewers ask for in ``asked_of``'s request: (file name, media type).
PAGE_2 = ("order-page-2.pdf", "application/pdf")


def asked_of(officer: Officer) -> LegalRequest:
    """A request of ``officer`` whose reviewer asked the authority for page 2 of the order.

    Like ``submitted``, it empties the cache (the rate-limit counts): make requests first.
    """
    from requests_app.review.services import clarification_ask, request_claim

    request = submitted(officer)
    handler = reviewer()
    request_claim(request=request, reviewer=handler)
    clarification_ask(request=request, reviewer=handler, body="Please send page 2 of the order.")
    request.refresh_from_db()
    return request


def preservation_submitted(officer: Officer) -> LegalRequest:
    return submitted(officer, kind="preservation", data_categories=["ip_addresses"])


def reviewer():
    return make_user(role=Role.REVIEWER)


def request_actions_since(mark: int, request: LegalRequest) -> list[str]:
    """The audit events about ``request`` after ``mark``, in order (logins left out)."""
    return list(
        AuditEvent.objects.filter(
            seq__gt=mark, target_type="requests_app.legalrequest", target_id=str(request.pk)
        )
        .order_by("seq")
        .values_list("action", flat=True)
    )


def client_of(officer: Officer) -> Client:
    """A new client logged in as ``officer`` (password and TOTP, through the pages)."""
    client = Client()
    log_in(client, officer.user)
    return client


def page(reference: str, name: str = "officer-request", *args) -> str:
    return reverse(name, args=[reference, *args])


def snapshot(request: LegalRequest) -> tuple:
    """What an attack must leave as it was."""
    request.refresh_from_db()
    return (
        request.status,
        request.due_at,
        Message.objects.filter(request=request).count(),
        RequestShare.objects.filter(request=request).count(),
        request_actions_since(0, request),
    )
