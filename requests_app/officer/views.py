"""The officer's pages: their requests, one request with its thread, withdrawal, sharing.

Thin views. Every request is reached through ``selectors.request_access_for_officer``
(a stranger gets 404), every change goes through a service, and the clocks come from
``clocks`` so that both sides of the portal read the same numbers.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFilesSent
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import AuthedRequest, page_officer, role_required
from accounts.models import Officer, Role
from accounts.selectors import signing_passkeys_active
from portal.problems import Problem, problem_response
from requests_app.delivery.selectors import sealed_responses_for_access
from requests_app.intake.attachments import ALLOWED_MEDIA_TYPES
from requests_app.intake.drafts import drafts_for_officer
from requests_app.intake.throttles import ReplyRateLimits, limits_wait
from requests_app.intake.webauthn import b64url_encode
from requests_app.lifecycle.access import (
    RequestAccess,
    colleague_for_share,
    messages_for_officer,
    request_access_for_officer,
    request_list_for_officer,
    share_get_for_officer,
    share_received_by,
    shares_for_officer,
)
from requests_app.lifecycle.clocks import preservation_extend, request_clocks, review_row
from requests_app.lifecycle.models import DataCategory, LegalRequest
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.lifecycle.states import allowed_actions
from requests_app.officer.api import MessageOut
from requests_app.officer.forms import PreservationExtendForm, ReplyForm, ShareForm, WithdrawForm
from requests_app.officer.receipt import receipt_filename, receipt_pdf
from requests_app.officer.selectors import decision_for_officer
from requests_app.officer.services import authority_reply, authority_withdraw
from requests_app.officer.sharing import NO_SUCH_COLLEAGUE, request_share, request_unshare
from requests_app.officer.signed_reply import reply_payload_for_signing, signed_reply_accept_web
from requests_app.review.models import Decision, RejectionReason

PAGE_SIZE = 50
THREAD_CLOSED = frozenset({LegalRequest.Status.CLOSED, LegalRequest.Status.WITHDRAWN})
# As for a submission (intake.web.views): a preview older than this is signed afresh.
PREVIEW_FRESH_SECONDS = 240
PASSKEY_TIMEOUT_MS = 120_000

officer_only = role_required(Role.OFFICER)


def _access(request: AuthedRequest, reference: str) -> RequestAccess:
    return request_access_for_officer(officer=page_officer(request), reference=reference)


def _detail_url(reference: str, anchor: str = "") -> str:
    return reverse("officer-request", args=[reference]) + (f"#{anchor}" if anchor else "")


@officer_only
@never_cache
@require_GET
def request_list(request: AuthedRequest) -> HttpResponse:
    """The officer's requests and those shared with them, with status and clocks."""
    officer = page_officer(request)
    requests = request_list_for_officer(officer=officer).select_related("review")
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "request": item,
            "clocks": request_clocks(item, now=now),
            "mine": item.officer_id == officer.pk,
        }
        for item in page.object_list
    ]
    return render(
        request,
        "requests_app/officer/list.html",
        {
            "page": page,
            "rows": rows,
            "awaiting": requests.filter(status=LegalRequest.Status.AWAITING_CLARIFICATION).count(),
            "drafts": drafts_for_officer(officer=officer),
        },
    )


def _signing_passkeys(officer: Officer) -> list[dict[str, Any]]:
    """The officer's passkeys approved for signing, as WebAuthn's allowCredentials wants."""
    credentials = [
        key.credential
        for key in signing_passkeys_active(officer=officer)
        if key.credential is not None
    ]
    return [
        {"id": b64url_encode(bytes(c.credential_id)), "transports": list(c.transports or [])}
        for c in sorted(credentials, key=lambda c: c.pk)
    ]


def _reply_config(access: RequestAccess) -> dict[str, Any]:
    """What the page's script needs to confirm a reply with documents (frontend/reply.js)."""
    reference = access.request.reference
    return {
        "previewUrl": reverse("officer-request-reply-preview", args=[reference]),
        "submitUrl": reverse("officer-request-reply-signed", args=[reference]),
        "threadUrl": _detail_url(reference, "thread"),
        "rpId": settings.OTP_WEBAUTHN_RP_ID,
        "credentials": _signing_passkeys(access.officer),
        "timeoutMs": PASSKEY_TIMEOUT_MS,
        "freshSeconds": PREVIEW_FRESH_SECONDS,
        "mediaTypes": sorted(ALLOWED_MEDIA_TYPES),
        "maxAttachments": settings.INTAKE_MAX_ATTACHMENTS,
        "maxAttachmentBytes": settings.INTAKE_MAX_ATTACHMENT_BYTES,
        "maxTotalBytes": settings.INTAKE_MAX_TOTAL_BYTES,
    }


def _approved_scope(request: LegalRequest, decision: Decision | None) -> dict[str, Any] | None:
    """What a partial approval covers, in the authority's terms."""
    if decision is None or decision.outcome != Decision.Outcome.APPROVE_PARTIAL:
        return None
    labels = dict(DataCategory.choices)
    return {
        "targets": [t for t in request.targets.all() if t.pk in decision.approved_target_ids],
        "categories": [labels.get(c, c) for c in decision.approved_categories],
        "period_from": decision.approved_period_from,
        "period_to": decision.approved_period_to,
    }


def _detail_page(
    request: AuthedRequest,
    access: RequestAccess,
    *,
    reply_form: ReplyForm | None = None,
    share_form: ShareForm | None = None,
    status: int | None = None,
) -> HttpResponse:
    legal_request = access.request
    decision = decision_for_officer(access=access)
    bound = reply_form is not None or share_form is not None
    return render(
        request,
        "requests_app/officer/detail.html",
        {
            "access": access,
            "legal_request": legal_request,
            "clocks": request_clocks(legal_request, state=review_row(legal_request)),
            "thread": messages_for_officer(access=access),
            "thread_open": legal_request.status not in THREAD_CLOSED,
            "decision": decision,
            "reason_label": dict(RejectionReason.choices).get(decision.reason_code, "")
            if decision
            else "",
            "scope": _approved_scope(legal_request, decision),
            "categories": [
                dict(DataCategory.choices).get(c, c) for c in legal_request.data_categories
            ],
            "withdrawable": "withdraw" in allowed_actions(legal_request.status),
            "responses": sealed_responses_for_access(access=access),
            "shares": shares_for_officer(access=access),
            "received_share": share_received_by(access=access),
            "reply_form": reply_form or ReplyForm(),
            "reply_config": _reply_config(access),
            "share_form": share_form or ShareForm(),
        },
        status=status or (400 if bound else 200),
    )


@officer_only
@never_cache
@require_GET
def request_detail(request: AuthedRequest, reference: str) -> HttpResponse:
    """One request: status, clocks, decision, the thread with a reply form, sharing."""
    return _detail_page(request, _access(request, reference))


@officer_only
@never_cache
@require_GET
def request_receipt(request: AuthedRequest, reference: str) -> HttpResponse:
    """The portal's signed receipt of the submission, as a PDF to print and file."""
    access = _access(request, reference)
    return pdf_attachment(receipt_pdf(access.request), receipt_filename(access.request))


def pdf_attachment(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@officer_only
@never_cache
@require_POST
def request_reply(request: AuthedRequest, reference: str) -> HttpResponse:
    """Write in the clarification thread.

    The reply limits are counted before the request is looked up (PROTOCOL §4.5, "The
    limits come first"), as on every way of replying: a reply to a reference the officer
    may not read counts, then is 404.
    """
    form = ReplyForm(request.POST)
    wait = limits_wait(ReplyRateLimits(), request)
    if wait is not None:
        return _reply_limited(request, reference, form, wait)
    access = _access(request, reference)
    if request.FILES or request.POST.get("documents"):
        # Documents travel only in a reply the officer's passkey signed (request_reply_signed).
        form.add_error(
            None,
            gettext(
                "Documents are sent only with a reply confirmed with your passkey, which "
                "needs JavaScript in this page. Nothing was sent."
            ),
        )
        return _detail_page(request, access, reply_form=form)
    if not form.is_valid():
        return _detail_page(request, access, reply_form=form)
    try:
        authority_reply(access=access, body=form.cleaned_data["body"])
    except OfficerRefused as refused:
        form.add_error(None, refused.message)
        return _detail_page(request, access, reply_form=form)
    messages.success(request, _("Your message was sent to the platform's legal team."))
    return HttpResponseRedirect(_detail_url(reference, "thread"))


def _reply_limited(
    request: AuthedRequest, reference: str, form: ReplyForm, wait: int
) -> HttpResponse:
    """A text reply over the limits: 429, the wait, nothing sent. The request page again,
    the text kept in its form, for a request the officer may read; for any other
    reference a page with the wait alone, which does not say whether the request exists."""
    message = _too_many_replies(wait).message
    try:
        access = _access(request, reference)
    except Http404:
        response = render(
            request, "requests_app/officer/reply_limited.html", {"message": message}, status=429
        )
    else:
        form.add_error(None, message)
        response = _detail_page(request, access, reply_form=form, status=429)
    response["Retry-After"] = str(wait)
    return response


@officer_only
@never_cache
@require_POST
def request_reply_preview(request: AuthedRequest, reference: str) -> HttpResponse:
    """Check a reply with documents; answer the payload to sign, or what to correct.

    The limits are read (not counted) first, before the request is looked up: a spent
    limit is 429 whatever the reference (PROTOCOL §4.5).
    """
    wait = limits_wait(ReplyRateLimits(), request, count=False)  # before the passkey is asked
    if wait is not None:
        return _problem(_too_many_replies(wait))
    access = _access(request, reference)
    try:
        payload = reply_payload_for_signing(
            access=access,
            body=request.POST.get("body", ""),
            attachments=request.POST.get("attachments", ""),
            now=timezone.now(),
        )
    except Problem as problem:
        return _problem(problem)
    return JsonResponse({"payload": payload})


def _too_many_replies(wait: int) -> Problem:
    """A reply over the reply limits (PROTOCOL §5.4): nothing of it is stored."""
    problem = Problem(
        "rate_limited",
        429,
        _(
            "You have sent many messages in a short time. "
            "Wait %(seconds)d seconds, then send again. Nothing was sent."
        )
        % {"seconds": wait},
        retry_after=wait,
    )
    problem.headers["Retry-After"] = str(wait)
    return problem


def _problem(problem: Problem) -> HttpResponse:
    response = problem_response(problem.code, problem.status, problem.message, **problem.extra)
    for name, value in problem.headers.items():
        response[name] = value
    return response


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body either


@officer_only
@csrf_exempt  # checked in _reply_signed, once the size is known to be within the limit
@never_cache
@require_POST
def request_reply_signed(request: AuthedRequest, reference: str) -> HttpResponse:
    """Take a reply with documents, confirmed with the officer's passkey (PROTOCOL §4.5).

    Multipart ``envelope`` (a file part) and ``attachment`` parts; answers 201 with the
    message, or a problem document. Django's CSRF check would read the whole body before
    any limit applies, so the size is checked first.
    """
    if _content_length(request) > settings.INTAKE_MAX_REQUEST_BYTES:
        return _problem(
            Problem("too_large", 413, _("The request is larger than the protocol allows."))
        )
    return _reply_signed(request, reference)


@csrf_protect
def _reply_signed(request: AuthedRequest, reference: str) -> HttpResponse:
    # Counted before the request is looked up, as every reply is (PROTOCOL §4.5).
    wait = limits_wait(ReplyRateLimits(), request)
    if wait is not None:
        return _problem(_too_many_replies(wait))
    access = _access(request, reference)
    try:
        part = request.FILES.get("envelope")
        uploads = request.FILES.getlist("attachment")
    except (RequestDataTooBig, TooManyFilesSent):
        return _problem(Problem("too_large", 413, _("The request has too many parts.")))
    except MultiPartParserError:
        return _problem(Problem("malformed", 400, _("The multipart body is broken.")))
    if part is None:
        return _problem(
            Problem(
                "malformed",
                400,
                _("The multipart body needs a part named envelope."),
                errors=[{"field": "envelope", "message": _("This part is required.")}],
            )
        )
    if part.size is not None and part.size > settings.INTAKE_MAX_ENVELOPE_BYTES:
        return _problem(
            Problem("too_large", 413, _("The envelope is larger than the protocol allows."))
        )
    try:
        accepted = signed_reply_accept_web(
            access=access,
            raw_envelope=part.read(),
            uploads=uploads,
            user=request.user,
            verified=request.user.is_verified(),
        )
    except Problem as problem:
        return _problem(problem)
    messages.success(
        request, gettext("Your message and its documents were sent to the platform's legal team.")
    )
    return JsonResponse(MessageOut(accepted.message).data, status=201)


@officer_only
@never_cache
@require_http_methods(["GET", "POST"])
def request_withdraw_confirm(request: AuthedRequest, reference: str) -> HttpResponse:
    """Ask for confirmation, then withdraw the request."""
    access = _access(request, reference)
    if not access.may_withdraw:
        raise PermissionDenied
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            authority_withdraw(access=access, reason=form.cleaned_data["reason"])
        except OfficerRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(
                request, _("Request %(reference)s is withdrawn.") % {"reference": reference}
            )
        return HttpResponseRedirect(_detail_url(reference))
    return render(
        request,
        "requests_app/officer/withdraw.html",
        {
            "legal_request": access.request,
            "form": form,
            "withdrawable": "withdraw" in allowed_actions(access.request.status),
        },
        status=400 if form.errors else 200,
    )


@officer_only
@never_cache
@require_http_methods(["GET", "POST"])
def preservation_extend_confirm(request: AuthedRequest, reference: str) -> HttpResponse:
    """Ask for confirmation, then extend the preservation once."""
    access = _access(request, reference)
    if not access.may_extend_preservation:
        raise PermissionDenied
    clocks = request_clocks(access.request, state=review_row(access.request))
    if clocks.preservation is None:
        raise Http404
    form = PreservationExtendForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            preservation_extend(
                request=access.request, officer=access.officer, reason=form.cleaned_data["reason"]
            )
        except OfficerRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, _("The preservation is extended."))
        return HttpResponseRedirect(_detail_url(reference, "clocks"))
    return render(
        request,
        "requests_app/officer/preservation_extend.html",
        {"legal_request": access.request, "preservation": clocks.preservation, "form": form},
        status=400 if form.errors else 200,
    )


@officer_only
@never_cache
@require_POST
def share_add(request: AuthedRequest, reference: str) -> HttpResponse:
    """Share the request with a named colleague of the same agency."""
    access = _access(request, reference)
    if not access.may_share:
        raise PermissionDenied
    form = ShareForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, access, share_form=form)
    colleague = colleague_for_share(officer=access.officer, email=form.cleaned_data["email"])
    if colleague is None:
        form.add_error("email", str(NO_SUCH_COLLEAGUE))
        return _detail_page(request, access, share_form=form)
    try:
        request_share(request=access.request, officer=access.officer, colleague=colleague)
    except OfficerRefused as refused:
        form.add_error("email", refused.message)
        return _detail_page(request, access, share_form=form)
    messages.success(
        request, _("%(name)s can now read and reply.") % {"name": colleague.user.full_name}
    )
    return HttpResponseRedirect(_detail_url(reference, "sharing"))


@officer_only
@never_cache
@require_POST
def share_revoke(request: AuthedRequest, reference: str, share_id: int) -> HttpResponse:
    """Take a share back."""
    access = _access(request, reference)
    share = share_get_for_officer(access=access, share_id=share_id)
    try:
        request_unshare(share=share, officer=access.officer)
    except OfficerRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{share.officer.user.full_name} no longer sees this request.")
    return HttpResponseRedirect(_detail_url(reference, "sharing"))
