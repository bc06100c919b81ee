"""The web channel of intake: a guided form, a preview of exactly what will be signed, and
the confirmation with the officer's passkey (PROTOCOL §2.5).

The pages are for active officers with a verified second factor (the standing
middleware sees to that). The submission endpoint is the channel itself: like the API it
answers JSON, and a session that may not submit is refused there, by intake step 2, so
that the refusal is logged.
"""

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import AuthedRequest, before_second_factor, page_officer, role_required
from accounts.models import Officer, Role
from accounts.preferences import user_zone
from accounts.selectors import (
    recipients_for_officer,
    signing_passkeys_active,
    signing_passkeys_waiting,
)
from portal.http import client_ip
from portal.problems import Problem, problem_response
from portal.templatetags.portal_time import deadline as deadline_html
from requests_app.intake.attachments import ALLOWED_MEDIA_TYPES
from requests_app.intake.drafts import (
    CopyChoice,
    DraftRefused,
    draft_delete,
    draft_document_get,
    draft_document_plaintext,
    draft_from_request,
    draft_get_for_officer,
    draft_save,
    draft_submitted,
    drafts_for_officer,
    request_of_officer,
)
from requests_app.intake.models import SubmissionDraft
from requests_app.intake.pipeline import rejection_record, submission_accept_web
from requests_app.intake.throttles import ADDRESS, OFFICER, SubmissionRateLimits, limits_wait
from requests_app.intake.web.forms import (
    KindOption,
    RequestForm,
    declarations_read,
    draft_fields,
    draft_initial,
    fields_of_request,
    files_check,
    kind_option_for,
    kind_options_for,
    payload_for_signing,
    preview_summary,
    request_form_check,
    target_formset,
)
from requests_app.intake.webauthn import b64url_encode
from requests_app.lifecycle.access import officer_of
from requests_app.lifecycle.models import LegalRequest
from requests_app.policy.help import legal_help_for

# A preview older than this is signed afresh: the gateway accepts signed_at within five
# minutes, and the officer needs time to touch the passkey.
PREVIEW_FRESH_SECONDS = 240
DRAFT_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive id that fits the database's integer
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
            "drafts": drafts_for_officer(officer=officer),
        },
    )


def _messages() -> dict[str, str]:
    """The page script's sentences, translated here (the script has no catalogue)."""
    return {
        "passkeyCancelled": _(
            "The passkey prompt was closed or timed out, so nothing was sent. Press "
            "“Confirm with your passkey” again and follow your browser's prompt."
        ),
        "passkeyNotHere": _(
            "This browser or device holds none of your approved passkeys. Use the device or "
            "security key you registered the passkey with, or register a passkey on this one "
            "from your account page (an administrator approves it first)."
        ),
        "passkeyWrongAddress": _(
            "The browser refused to use a passkey on this address. Open the portal at its own "
            "address, %(address)s, and confirm there."
        )
        % {"address": settings.PORTAL_AUDIENCE},
        "passkeyUnsupported": _(
            "This browser cannot use passkeys. Open the portal in a current version of "
            "Chrome, Edge, Firefox or Safari and confirm there."
        ),
        "passkeyFailed": _(
            "The passkey did not confirm the request, and nothing was sent. Press “Confirm "
            "with your passkey” again; if it keeps failing, restart the browser and try again."
        ),
        "unreachable": _("The portal could not be reached. Check the connection and try again."),
        "draftSaved": _("Draft saved."),
        "draftNotSaved": _("The draft was not saved: %(reason)s"),
        "documentsLoading": _("Loading the draft's documents…"),
        "documentsNotLoaded": _(
            "The draft's documents could not be loaded. Reload the page, or choose the files again."
        ),
        "removeFile": _("Remove"),
    }


def _form_page(
    request: AuthedRequest, officer: Officer, option: KindOption, draft: SubmissionDraft | None
) -> HttpResponse:
    passkeys = _passkeys(officer)
    documents = list(draft.documents.all()) if draft is not None else []
    config = {
        "checkUrl": reverse("submission-check", args=[option.kind]),
        "saveUrl": reverse("submission-draft-save", args=[option.kind]),
        "submitUrl": reverse("submission-submit"),
        "draftId": draft.pk if draft is not None else None,
        "draftDocuments": [
            {
                "url": reverse("submission-draft-document", args=[draft.pk, document.pk]),
                "filename": document.filename,
                "media_type": document.media_type,
                "size": document.size,
                "sha256": document.sha256,
            }
            for document in documents
            if draft is not None
        ],
        "requestUrlTemplate": reverse("officer-request", args=["REFERENCE"]),
        "statusLabels": dict(LegalRequest.Status.choices),
        "messages": _messages(),
        "rpId": settings.OTP_WEBAUTHN_RP_ID,
        "credentials": passkeys,
        "timeoutMs": PASSKEY_TIMEOUT_MS,
        "freshSeconds": PREVIEW_FRESH_SECONDS,
        "mediaTypes": sorted(ALLOWED_MEDIA_TYPES),
        "maxAttachments": settings.INTAKE_MAX_ATTACHMENTS,
        "maxAttachmentBytes": settings.INTAKE_MAX_ATTACHMENT_BYTES,
        "maxTotalBytes": settings.INTAKE_MAX_TOTAL_BYTES,
    }
    if draft is not None:
        initial, target_rows = draft_initial(draft.fields)
        form = RequestForm(option=option, initial=initial)
        targets = target_formset(officer=officer, initial=target_rows)
    else:
        form = RequestForm(option=option)
        targets = target_formset(officer=officer)
    legal_help = legal_help_for(country=str(officer.agency.country))
    if legal_help.example:
        form.fields["legal_basis"].help_text = _(
            "The law that allows the request, e.g. %(example)s."
        ) % {"example": legal_help.example}
    return render(
        request,
        "requests_app/submit.html",
        {
            "option": option,
            "form": form,
            "targets": targets,
            "draft": draft,
            "has_passkey": bool(passkeys),
            "passkey_waiting": _passkey_waiting(officer),
            "config": config,
            "legal_help": legal_help,
        },
    )


@role_required(Role.OFFICER)
@never_cache
@require_GET
def submission_form(request: AuthedRequest, kind: str) -> HttpResponse:
    """The form for one kind of request, with the check, preview and confirmation steps."""
    officer = page_officer(request)
    return _form_page(request, officer, _option(officer, kind), None)


def _too_large(request: HttpRequest) -> bool:
    return _content_length(request) > settings.INTAKE_MAX_REQUEST_BYTES


def _posted(request: HttpRequest) -> tuple[Any, list[Any]] | HttpResponse:
    """The form's fields and files, or the problem that stopped reading them."""
    try:
        return request.POST, request.FILES.getlist("attachment")
    except (RequestDataTooBig, TooManyFilesSent):
        return problem_response("too_large", 413, _("The request has too many parts."))
    except MultiPartParserError:
        return problem_response("malformed", 400, _("The multipart body is broken."))


@role_required(Role.OFFICER)
@never_cache
@require_POST
def submission_check(request: AuthedRequest, kind: str) -> HttpResponse:
    """The check step: the form and its files, as intake will check them; nothing is stored.

    Answers the payload to sign and its summary, or the fields to correct (400
    ``malformed`` with ``errors``). It runs every check that needs no signature, so that
    the page asks for the passkey only for a request that only the signature can fail.
    """
    officer = page_officer(request)
    option = _option(officer, kind)
    if _too_large(request):
        return problem_response(
            "too_large", 413, _("The request is larger than the portal accepts.")
        )
    posted = _posted(request)
    if isinstance(posted, HttpResponse):
        return posted
    data, uploads = posted
    now = timezone.now()
    checked = request_form_check(
        officer=officer, option=option, data=data, uploads=uploads, today=now.date()
    )
    if checked.request is None:
        return problem_response(
            "malformed", 400, _("Some fields need your attention."), errors=checked.errors
        )
    wait = limits_wait(SubmissionRateLimits(scopes=(OFFICER, ADDRESS)), request, count=False)
    if wait is not None:
        return problem_response(
            "rate_limited",
            429,
            _(
                "You have sent many requests in a short time. "
                "Wait %(seconds)d seconds, then check again."
            )
            % {"seconds": wait},
            retry_after=wait,
        )
    return JsonResponse(
        {
            "payload": payload_for_signing(request=checked.request, now=now),
            "summary": preview_summary(checked.request),
        }
    )


def _draft_id(text: str) -> int | None:
    """A draft's id as posted, or ``None`` for anything that cannot be one."""
    return int(text) if DRAFT_ID.fullmatch(text) else None


@role_required(Role.OFFICER)
@never_cache
@require_POST
def draft_save_view(request: AuthedRequest, kind: str) -> HttpResponse:
    """Save the form, unchecked, as the officer's draft (new, or the one named by ``draft``).

    Its files are checked as intake checks them (a document that could never be sent is
    not kept) and stored encrypted. Answers ``{"draft", "url"}``, or a problem document.
    """
    officer = page_officer(request)
    option = _option(officer, kind)
    if _too_large(request):
        return problem_response(
            "too_large", 413, _("The request is larger than the portal accepts.")
        )
    posted = _posted(request)
    if isinstance(posted, HttpResponse):
        return posted
    data, uploads = posted
    draft = None
    if data.get("draft"):
        draft_id = _draft_id(data["draft"])
        if draft_id is None:
            raise Http404
        draft = draft_get_for_officer(officer=officer, draft_id=draft_id)
        if draft.kind != option.kind:
            raise Http404
    fields, too_long = draft_fields(data, option=option)
    errors = [{"field": name, "message": _("This is too long to keep.")} for name in too_long]
    try:
        items = declarations_read(data.get("attachments", ""))
    except forms.ValidationError as refused:
        errors.extend({"field": "attachments", "message": str(m)} for m in refused.messages)
        items = []
    documents, problem = files_check(items, uploads) if not errors else ([], "")
    if problem:
        errors.append({"field": "attachments", "message": problem})
    if errors:
        return problem_response("malformed", 400, _("The draft was not saved."), errors=errors)
    try:
        saved = draft_save(
            officer=officer, kind=option.kind, fields=fields, documents=documents, draft=draft
        )
    except DraftRefused as refused:
        return problem_response("invalid_state", 409, refused.message)
    return JsonResponse(
        {
            "draft": saved.pk,
            "url": reverse("submission-draft", args=[saved.pk]),
            "saved_at": saved.updated_at.isoformat(),
        }
    )


@role_required(Role.OFFICER)
@never_cache
@require_GET
def draft_open(request: AuthedRequest, draft_id: int) -> HttpResponse:
    """The form of the draft's kind, filled in from the draft: edit, save, check, submit."""
    officer = page_officer(request)
    draft = draft_get_for_officer(officer=officer, draft_id=draft_id)
    option = kind_option_for(officer=officer, kind=draft.kind)
    if option is None:
        messages.error(
            request,
            _(
                "Requests of this kind are no longer accepted from your country: the draft "
                "cannot be sent. You may delete it."
            ),
        )
        return HttpResponseRedirect(reverse("submission-new"))
    return _form_page(request, officer, option, draft)


@role_required(Role.OFFICER)
@never_cache
@require_http_methods(["GET", "POST"])
def draft_delete_confirm(request: AuthedRequest, draft_id: int) -> HttpResponse:
    """Ask, then delete the draft and its documents."""
    officer = page_officer(request)
    draft = draft_get_for_officer(officer=officer, draft_id=draft_id)
    if request.method == "POST":
        draft_delete(draft=draft)
        messages.success(request, _("The draft is deleted."))
        return HttpResponseRedirect(reverse("submission-new"))
    return render(request, "requests_app/draft_delete.html", {"draft": draft})


@role_required(Role.OFFICER)
@never_cache
@require_GET
def draft_document(request: AuthedRequest, draft_id: int, document_id: int) -> HttpResponse:
    """One of the draft's documents, decrypted, for the page to send with the request."""
    officer = page_officer(request)
    draft = draft_get_for_officer(officer=officer, draft_id=draft_id)
    document = draft_document_get(draft=draft, document_id=document_id)
    response = HttpResponse(draft_document_plaintext(document), content_type=document.media_type)
    response["Content-Disposition"] = "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@role_required(Role.OFFICER)
@never_cache
@require_POST
def draft_copy(request: AuthedRequest, reference: str) -> HttpResponse:
    """Start a draft from an earlier request of the officer's own (not one shared with them).

    Its details always; its targets and its documents only when their boxes are ticked.
    """
    officer = page_officer(request)
    earlier = request_of_officer(officer=officer, reference=reference)
    if kind_option_for(officer=officer, kind=earlier.kind) is None:
        messages.error(
            request,
            _(
                "Requests of this kind are no longer accepted from your country: it cannot be "
                "copied."
            ),
        )
        return HttpResponseRedirect(reverse("officer-request", args=[reference]))
    choice = CopyChoice(
        targets=request.POST.get("copy_targets") == "on",
        documents=request.POST.get("copy_documents") == "on",
    )
    try:
        draft = draft_from_request(
            officer=officer,
            request=earlier,
            fields=fields_of_request(earlier, with_targets=choice.targets),
            choice=choice,
        )
    except DraftRefused as refused:
        messages.error(request, refused.message)
        return HttpResponseRedirect(reverse("officer-request", args=[reference]))
    messages.success(
        request,
        _(
            "A new request, copied from %(reference)s and saved as a draft. Check every field "
            "before you send it."
        )
        % {"reference": reference},
    )
    return HttpResponseRedirect(reverse("submission-draft", args=[draft.pk]))


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
    wait = limits_wait(SubmissionRateLimits(scopes=(OFFICER, ADDRESS)), request)
    if wait is not None:
        problem = Problem(
            "rate_limited", 429, _("Too many submissions; try again later."), retry_after=wait
        )
        problem.headers["Retry-After"] = str(wait)
        raise problem


def _envelope_bytes(request: HttpRequest) -> bytes:
    part = request.FILES.get("envelope")
    if part is None:
        raise Problem(
            "malformed",
            400,
            _("The multipart body needs a part named envelope."),
            errors=[{"field": "envelope", "message": _("This part is required.")}],
        )
    if part.size is not None and part.size > settings.INTAKE_MAX_ENVELOPE_BYTES:
        raise Problem("too_large", 413, _("The envelope is larger than the protocol allows."))
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
            request, Problem("too_large", 413, _("The request is larger than the protocol allows."))
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
        return _refuse(request, Problem("too_large", 413, _("The request has too many parts.")))
    except MultiPartParserError:
        return _refuse(request, Problem("malformed", 400, _("The multipart body is broken.")))

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
    draft_id = _draft_id(request.POST.get("draft", ""))
    if draft_id is not None and accepted.request.officer.user_id == user.pk:
        # The draft became this request: it goes (only the submitter's own draft).
        draft_submitted(officer=accepted.request.officer, draft_id=draft_id)
    answer = accepted.answer()
    # The due time as this officer reads it (their zone and language); due_at stays UTC.
    with timezone.override(user_zone(user)):
        answer["due_shown"] = strip_tags(deadline_html(accepted.request.due_at))
    return JsonResponse(answer, status=201)
