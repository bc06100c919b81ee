"""The agency supervisor's pages about the agency's requests (``/agency/requests/``).

Thin views: ``selectors`` is the gate (another agency's request or response is a 404),
``services`` acts. A supervisor reads every request's state, clocks, decision and
response metadata; the targets, documents and thread only of requests shared with them,
and only those they may answer in.
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from accounts.supervision import page_supervisor
from portal.http import client_ip
from requests_app.delivery.api import sealed_file_response
from requests_app.delivery.services import SealedResponseGone, sealed_response_download
from requests_app.lifecycle.clocks import request_clocks, review_row
from requests_app.lifecycle.models import DataCategory, DecisionOutcome, LegalRequest
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.supervisor.forms import ReplyForm
from requests_app.supervisor.selectors import (
    SupervisedRequest,
    decision_for_supervisor,
    decision_outcome,
    request_counts_for_supervisor,
    request_for_supervisor,
    request_list_for_supervisor,
    responses_for_supervisor,
    sealed_response_get_for_supervisor,
)
from requests_app.supervisor.services import export_record, export_rows, supervisor_reply

PAGE_SIZE = 50
THREAD_CLOSED = frozenset({LegalRequest.Status.CLOSED, LegalRequest.Status.WITHDRAWN})

supervisor_only = role_required(Role.SUPERVISOR)


@supervisor_only
@never_cache
@require_GET
def request_list(request: AuthedRequest) -> HttpResponse:
    """Every request of the agency, newest first, with its state and clocks."""
    supervisor = page_supervisor(request)
    requests = request_list_for_supervisor(supervisor=supervisor)
    status = request.GET.get("status", "")
    if status in LegalRequest.Status.values:
        requests = requests.filter(status=status)
    else:
        status = ""
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    outcomes = dict(DecisionOutcome.choices)
    rows = [
        {
            "request": item,
            "clocks": request_clocks(item, now=now),
            "decision": outcomes.get(decision_outcome(item), ""),
        }
        for item in page.object_list
    ]
    return render(
        request,
        "requests_app/supervisor/list.html",
        {
            "supervisor": supervisor,
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": LegalRequest.Status.choices,
        },
    )


def _detail_page(
    request: AuthedRequest,
    supervised: SupervisedRequest,
    *,
    reply_form: ReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    legal_request = supervised.request
    labels = dict(DataCategory.choices)
    return render(
        request,
        "requests_app/supervisor/detail.html",
        {
            "supervised": supervised,
            "legal_request": legal_request,
            "clocks": request_clocks(legal_request, state=review_row(legal_request)),
            "decision": decision_for_supervisor(supervised=supervised),
            "responses": responses_for_supervisor(supervised=supervised),
            "categories": [labels.get(c, c) for c in legal_request.data_categories],
            "thread": legal_request.messages.select_related("author")
            if supervised.readable
            else [],
            "thread_open": legal_request.status not in THREAD_CLOSED,
            "reply_form": reply_form or ReplyForm(),
        },
        status=status,
    )


@supervisor_only
@never_cache
@require_GET
def request_detail(request: AuthedRequest, reference: str) -> HttpResponse:
    """One request of the agency: state, clocks, decision, responses; the rest if shared."""
    supervised = request_for_supervisor(supervisor=page_supervisor(request), reference=reference)
    return _detail_page(request, supervised)


@supervisor_only
@never_cache
@require_POST
def request_reply(request: AuthedRequest, reference: str) -> HttpResponse:
    """Write in the thread of a request shared with the supervisor."""
    supervised = request_for_supervisor(supervisor=page_supervisor(request), reference=reference)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, supervised, reply_form=form, status=400)
    try:
        supervisor_reply(supervised=supervised, body=form.cleaned_data["body"])
    except OfficerRefused as refused:
        form.add_error(None, refused.message)
        return _detail_page(request, supervised, reply_form=form, status=refused.status)
    messages.success(request, _("Your message was sent to the platform's legal team."))
    return HttpResponseRedirect(reverse("supervisor-request", args=[reference]) + "#thread")


@supervisor_only
@never_cache
@require_POST
def response_download(request: AuthedRequest, response_id: int) -> HttpResponseBase:
    """Serve a sealed file sealed to one of the supervisor's own recipients (audited)."""
    supervisor = page_supervisor(request)
    sealed = sealed_response_get_for_supervisor(supervisor=supervisor, response_id=response_id)
    try:
        download = sealed_response_download(
            sealed=sealed, officer=supervisor, channel="web", ip=client_ip(request)
        )
    except SealedResponseGone:
        return render(request, "requests_app/delivery/gone.html", {"sealed": sealed}, status=410)
    return sealed_file_response(download)


@supervisor_only
@never_cache
@require_GET
def request_export(request: AuthedRequest) -> StreamingHttpResponse:
    """The agency's request history as CSV; target values only where shared (audited)."""
    supervisor = page_supervisor(request)
    requests = request_list_for_supervisor(supervisor=supervisor).prefetch_related("targets")
    rows, with_targets = request_counts_for_supervisor(supervisor=supervisor)
    export_record(supervisor=supervisor, rows=rows, with_targets=with_targets)
    response = StreamingHttpResponse(
        export_rows(requests.iterator(chunk_size=500)), content_type="text/csv; charset=utf-8"
    )
    day = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = (
        f'attachment; filename="agency-{supervisor.agency_id}-requests-{day}.csv"'
    )
    return response
