"""The reviewers' queue, the request page and its legal documents.

Thin views: a form reads the queue's filters, the selectors in ``selectors`` decide who
may see what and read it, and the decision tools on the request page come from
``views_actions.review_tools``. Every page here is for reviewers only (403 for other
roles; the standing middleware sends anonymous and password-only sessions to log in);
an unknown reference is 404 whatever the role.
"""

import logging
from collections.abc import Callable
from html import escape
from typing import Any, cast
from urllib.parse import quote

from django import forms
from django.core.files.base import File
from django.forms.utils import flatatt
from django.http import FileResponse, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from requests_app.intake.attachments import ALLOWED_MEDIA_TYPES
from requests_app.lifecycle.clocks import overdue_since, request_clocks, review_row
from requests_app.lifecycle.models import (
    Attachment,
    LegalRequest,
    MessageAttachment,
    RequestKind,
)
from requests_app.review.queue_table import queue_rows_html
from requests_app.review.selectors import (
    DOCUMENT_DOWNLOADED,
    DOCUMENT_VIEWED,
    DUE_WITHIN,
    QUEUE_ORDERS,
    DocumentUnreadable,
    QueueFilters,
    QueueOptions,
    attachment_open_for_reviewer,
    message_document_open_for_reviewer,
    non_disclosure_until,
    queue_options,
    request_dossier,
    request_get_for_reviewer,
    request_queue,
)
from requests_app.review.views_actions import review_tools

logger = logging.getLogger(__name__)

reviewer_only = role_required(Role.REVIEWER)
_REFERENCE = "__reference__"


def _url_for_each(name: str) -> Callable[[str], str]:
    """``reverse(name, args=[reference])`` for many references, reversing only once."""
    pattern = reverse(name, args=[_REFERENCE])
    return lambda reference: pattern.replace(_REFERENCE, quote(reference, safe=""))


class QuickSelect(forms.Select):
    """A select written in one pass instead of a template per option.

    The agency filter lists every agency (hundreds); rendered option by option through
    the widget templates it cost more than all of the queue's queries.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        chosen = "" if value is None else str(value)
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) == chosen else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        select = f'<select name="{escape(name)}"{flatatt(self.build_attrs(self.attrs, attrs))}>'
        # Every value above is escaped (html.escape, quotes included); flatatt escapes too.
        return mark_safe(f"{select}{options}</select>")  # noqa: S308


class QueueFilterForm(forms.Form):
    """The queue's filters (a GET form): labels for the page, checks for the selector."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=200,
        help_text=_(
            "A request's reference, a case reference or part of an agency's name; a search "
            "looks through every state unless you choose one."
        ),
    )
    target = forms.CharField(
        label=_("Target value"),
        required=False,
        max_length=200,
        help_text=_(
            "A phone number (international format), email address, username or user id, "
            "matched exactly. Every search by target is recorded with your name."
        ),
    )
    status = forms.ChoiceField(
        label=_("State"),
        required=False,
        help_text=_("Open work: received, in review, awaiting clarification, approved."),
        choices=[
            ("", _("Open work")),
            ("all", _("Every state")),
            *LegalRequest.Status.choices,
        ],
        widget=QuickSelect,
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("Any kind")), *RequestKind.choices],
        widget=QuickSelect,
    )
    country = forms.ChoiceField(label=_("Country"), required=False, widget=QuickSelect)
    agency = forms.TypedChoiceField(
        label=_("Agency"), required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    due = forms.ChoiceField(
        label=_("Due"),
        required=False,
        choices=[("", _("Any due date")), *DUE_WITHIN.items()],
        widget=QuickSelect,
    )
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False, widget=QuickSelect)
    second = forms.BooleanField(
        label=_("Only proposals waiting for my second approval"),
        required=False,
    )
    sort = forms.ChoiceField(
        label=pgettext_lazy("sorting", "Order"),
        required=False,
        help_text=_("Usual: the most urgent first; closed states newest first."),
        choices=[
            ("", _("Usual order")),
            *((key, order.label) for key, order in QUEUE_ORDERS.items()),
        ],
        widget=QuickSelect,
    )

    def __init__(self, *args: Any, options: QueueOptions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["country"]).choices = [
            ("", _("Any country")),
            *options.countries,
        ]
        cast(forms.ChoiceField, self.fields["agency"]).choices = [
            ("", _("Any agency")),
            *((str(pk), f"{name} ({country})") for pk, name, country in options.agencies),
        ]
        cast(forms.ChoiceField, self.fields["assignee"]).choices = [
            ("", _("Anyone or nobody")),
            ("mine", _("Me")),
            ("unassigned", _("Nobody yet")),
            *((str(pk), full_name) for pk, full_name in options.reviewers),
        ]

    def filters(self) -> QueueFilters:
        """The valid filters; a field with a bad value is left out (and shown as an error)."""
        self.is_valid()
        data = self.cleaned_data
        return QueueFilters(
            status=data.get("status") or "",
            kind=data.get("kind") or "",
            country=data.get("country") or "",
            agency_id=data.get("agency"),
            due=data.get("due") or "",
            assignee=data.get("assignee") or "",
            order=data.get("sort") or "",
            second=bool(data.get("second")),
            text=(data.get("q") or "").strip(),
            target=(data.get("target") or "").strip(),
        )


@reviewer_only
@never_cache
@require_GET
def queue(request: AuthedRequest) -> HttpResponse:
    """The review queue: most urgent first, filtered and sorted, a page at a time."""
    options = queue_options(user=request.user)
    form = QueueFilterForm(request.GET, options=options)
    filters = form.filters()
    page = request_queue(user=request.user, filters=filters, cursor=request.GET.get("after", ""))
    return render(
        request,
        "requests_app/review/queue.html",
        {
            "form": form,
            "page": page,
            "rows_html": queue_rows_html(
                page.rows,
                page_url=_url_for_each("review-request"),
                claim_url=_url_for_each("review-claim"),
                csrf_token=get_token(request),
            ),
            "filtered": any(value for name, value in form.cleaned_data.items() if name != "sort"),
            "errors": [
                (
                    form[name].auto_id,
                    gettext("%(field)s: %(error)s")
                    % {"field": form[name].label, "error": errors[0]},
                )
                for name, errors in form.errors.items()
            ],
        },
    )


@reviewer_only
@never_cache
@require_GET
def request_page(request: AuthedRequest, reference: str) -> HttpResponse:
    """Everything about one request: provenance, documents, scope, clocks, history, tools."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    return render(
        request,
        "requests_app/review/request.html",
        {
            "legal_request": legal_request,
            "review": review_row(legal_request),
            "dossier": request_dossier(user=request.user, request=legal_request),
            "clocks": request_clocks(legal_request),
            "overdue_since": overdue_since(
                legal_request, review_row(legal_request), now=timezone.now()
            ),
            "non_disclosure_until": non_disclosure_until(legal_request),
            "tools": review_tools(legal_request=legal_request, user=request.user),
        },
    )


@reviewer_only
@never_cache
@require_GET
def document_download(
    request: AuthedRequest, reference: str, attachment_id: int
) -> FileResponse | HttpResponse:
    """Download a legal document: always as a file, never shown in the portal's origin."""
    return _legal_document(request, reference, attachment_id, action=DOCUMENT_DOWNLOADED)


@reviewer_only
@never_cache
@require_GET
def document_view(
    request: AuthedRequest, reference: str, attachment_id: int
) -> FileResponse | HttpResponse:
    """A legal document for the request page's viewer (frontend/document-viewer.js): the
    same bytes and headers as a download, audited as an opening in the viewer."""
    return _legal_document(request, reference, attachment_id, action=DOCUMENT_VIEWED)


def _legal_document(
    request: AuthedRequest, reference: str, attachment_id: int, *, action: str
) -> FileResponse | HttpResponse:
    try:
        attachment, handle = attachment_open_for_reviewer(
            user=request.user, reference=reference, attachment_id=attachment_id, action=action
        )
    except DocumentUnreadable:
        return _unreadable(reference)
    return _document_response(attachment, handle)


@reviewer_only
@never_cache
@require_GET
def message_document_download(
    request: AuthedRequest, reference: str, message_id: int, document_id: int
) -> FileResponse | HttpResponse:
    """Download a document the authority sent with a signed reply, like a legal document."""
    try:
        document, handle = message_document_open_for_reviewer(
            user=request.user, reference=reference, message_id=message_id, document_id=document_id
        )
    except DocumentUnreadable:
        return _unreadable(reference)
    return _document_response(document, handle)


def _unreadable(reference: str) -> HttpResponse:
    logger.exception("A stored legal document of %s does not open", reference)
    return HttpResponse(
        gettext(
            "This document cannot be opened: what is stored is not the document the "
            "authority sent. Nothing was shown; tell the portal's administrators."
        ),
        status=500,
        content_type="text/plain; charset=utf-8",
    )


def _document_response(
    attachment: Attachment | MessageAttachment, handle: File
) -> FileResponse | HttpResponse:
    media_type = (
        attachment.media_type
        if attachment.media_type in ALLOWED_MEDIA_TYPES
        else "application/octet-stream"
    )
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=media_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Should a browser render it anyway, it runs nothing and reaches nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
