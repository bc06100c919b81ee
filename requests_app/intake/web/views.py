"""The web channel of intake: a guided form, a preview of exactly what will be signed, and
the confirmation with the officer's passkey (PROTOCOL §2.5).

The pages are for active officers with a verified second factor (the standing
middleware sees to that). The submission endpoint is the channel itself: like the API it
answers JSON, and a session that may not submit is refused there, by intake step 2, so
that the refusal is logged.
"""

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthedRequest, before_second_factor, page_officer, role_required
from accounts.models import Officer, Role
from accounts.selectors import (
    recipients_for_officer,
    signing_passkeys_active,
    signing_passkeys_waiting,
)
from portal.http import client_ip
from portal.problems import Problem, problem_response
from requests_app.intake.attachments import ALLOWED_MEDIA_TYPES
from requests_app.intake.pipeline import rejection_record, submission_accept_web
from requests_app.intake.throttles import ADDRESS, OFFICER, SubmissionRateLimits
from requests_app.intake.web.forms import (
    TARGETS_PREFIX,
    KindOption,
    RequestForm,
    TargetFormSet,
    draft_check,
    kind_option_for,
    kind_options_for,
    payload_for_signing,
)
from requests_app.intake.webauthn import b64url_encode
from requests_app.lifecycle.access import officer_of

# A preview older than this is signed afresh: the gateway accepts signed_at within five
# minutes, and the officer needs time to touch the passkey.
PREVIEW_FRESH_SECONDS = 240
PASSKEY_TIMEOUT_MS = 120_000


def _option(officer: Officer, kind: str) -> KindOption:
    option = kind_option_for(officer=officer, kind=kind)
    if option is None:
        raise Http404
    return option


def _passkeys(officer: Officer) -> list[dict[str, Any]]:
    """The officer's passkeys approved for signing, as WebAuthn's allowCredentials wants them.

    A passkey that waits for approval logs in but cannot confirm a request, so the browser
    is not offered it.
    """
    keys = signing_passkeys_active(officer=officer)
    credentials = [key.credential for key in keys if key.credential is not None]
    return [
        {"id": b64url_encode(bytes(c.credential_id)), "transports": list(c.transports or [])}
        for c in sorted(credentials, key=lambda c: c.pk)
    ]


def _passkey_waiting(officer: Officer) -> bool:
    """Whether the officer has a registered passkey that an administrator has yet to approve."""
    return signing_passkeys_waiting(officer=officer).exists()


@role_required(Role.OFFICER)
@never_cache
@require_GET
def submission_new(request: AuthedRequest) -> HttpResponse:
    """Choose the kind of request."""
    officer = page_officer(request)
    return render(
        request,
        "requests_app/submit_kinds.html",
        {
            "options": kind_options_for(officer=officer),
            "has_passkey": bool(_passkeys(officer)),
            "passkey_waiting": _passkey_waiting(officer),
            # Without one, a request could be approved and then not be sealed to anyone.
            "has_recipient": bool(
                recipients_for_officer(officer_id=officer.pk, agency_id=officer.agency_id)
            ),
            "country": officer.agency.country,
        },
    )


@role_required(Role.OFFICER)
@never_cache
@require_GET
def submission_form(request: AuthedRequest, kind: str) -> HttpResponse:
    """The form for one kind of request, with the preview and confirmation steps."""
    officer = page_officer(request)
    option = _option(officer, kind)
    passkeys = _passkeys(officer)
    config = {
        "previewUrl": reverse("submission-preview", args=[option.kind]),
        "submitUrl": reverse("submission-submit"),
        "rpId": settings.OTP_WEBAUTHN_RP_ID,
        "credentials": passkeys,
        "timeoutMs": PASSKEY_TIMEOUT_MS,
        "freshSeconds": PREVIEW_FRESH_SECONDS,
        "mediaTypes": sorted(ALLOWED_MEDIA_TYPES),
        "maxAttachments": settings.INTAKE_MAX_ATTACHMENTS,
        "maxAttachmentBytes": settings.INTAKE_MAX_ATTACHMENT_BYTES,
        "maxTotalBytes": settings.INTAKE_MAX_TOTAL_BYTES,
    }
    return render(
        request,
        "requests_app/submit.html",
        {
            "option": option,
            "form": RequestForm(option=option),
            "targets": TargetFormSet(prefix=TARGETS_PREFIX),
            "has_passkey": bool(passkeys),
            "passkey_waiting": _passkey_waiting(officer),
            "config": config,
        },
    )


@role_required(Role.OFFICER)
@never_cache
@require_POST
def submission_preview(request: AuthedRequest, kind: str) -> HttpResponse:
    """Check the form; answer the payload to sign, or the fields to correct."""
    officer = page_officer(request)
    option = _option(officer, kind)
    now = timezone.now()
    draft = draft_check(officer=officer, option=option, data=request.POST, today=now.date())
    if draft.request is None:
        return problem_response(
            "malformed", 400, "Some fields need your attention.", errors=draft.errors
        )
    return JsonResponse({"payload": payload_for_signing(request=draft.request, now=now)})


def _problem(problem: Problem) -> HttpResponse:
    response = problem_response(problem.code, problem.status, problem.message, **problem.extra)
    for name, value in problem.headers.items():
        response[name] = value
    return response


def _refuse(request: HttpRequest, problem: Problem) -> HttpResponse:
    """Log a refusal that came before intake could read the envelope, and answer it."""
    rejection_record(
        problem=problem,
        channel="web",
        body_sha256="",
        ip=client_ip(request),
        officer=officer_of(getattr(request, "user", None)),
    )
    return _problem(problem)


def _throttle_check(request: HttpRequest) -> None:
    """The API's limits per officer and per address; one budget for both channels."""
    limits = SubmissionRateLimits(scopes=(OFFICER, ADDRESS))
    if not limits.allow_request(request, None):
        wait = max(1, math.ceil(limits.wait() or 1))
        problem = Problem(
            "rate_limited", 429, "Too many submissions; try again later.", retry_after=wait
        )
        problem.headers["Retry-After"] = str(wait)
        raise problem


def _envelope_bytes(request: HttpRequest) -> bytes:
    part = request.FILES.get("envelope")
    if part is None:
        raise Problem(
            "malformed",
            400,
            "The multipart body needs a part named envelope.",
            errors=[{"field": "envelope", "message": "This part is required."}],
        )
    if part.size is not None and part.size > settings.INTAKE_MAX_ENVELOPE_BYTES:
        raise Problem("too_large", 413, "The envelope is larger than the protocol allows.")
    return part.read()


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body either


@before_second_factor  # intake step 2 refuses, and logs, a session without a second factor
@csrf_exempt  # checked in _submit, once the size is known to be within the limit
@never_cache
@require_POST
def submission_submit(request: HttpRequest) -> HttpResponse:
    """Take a passkey-confirmed submission: multipart ``envelope`` + ``attachment`` parts.

    Answers 201 with PROTOCOL §4.3's body, or a problem document. Django's CSRF check would
    read the whole body before any limit applies, so the size is checked first.
    """
    if _content_length(request) > settings.INTAKE_MAX_REQUEST_BYTES:
        return _refuse(
            request, Problem("too_large", 413, "The request is larger than the protocol allows.")
        )
    return _submit(request)


@csrf_protect
def _submit(request: HttpRequest) -> HttpResponse:
    try:
        _throttle_check(request)
        raw_envelope = _envelope_bytes(request)
        uploads = request.FILES.getlist("attachment")
    except Problem as problem:
        return _refuse(request, problem)
    except (RequestDataTooBig, TooManyFilesSent):
        return _refuse(request, Problem("too_large", 413, "The request has too many parts."))
    except MultiPartParserError:
        return _refuse(request, Problem("malformed", 400, "The multipart body is broken."))

    user: Any = request.user
    try:
        accepted = submission_accept_web(
            raw_envelope=raw_envelope,
            uploads=uploads,
            user=user,
            verified=bool(user.is_authenticated and user.is_verified()),
            ip=client_ip(request),
        )
    except Problem as problem:
        return _problem(problem)  # logged by the pipeline
    return JsonResponse(accepted.answer(), status=201)
