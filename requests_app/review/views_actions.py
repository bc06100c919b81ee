"""The reviewers' decision tools: claim, assess, clarify, call back, decide, hand over.

Thin views. The gatekeeper ``request_get_for_reviewer`` finds the request (or answers
"not found"), a form checks the input, a service in ``services`` takes the decision and
writes the audit event. A refused action changes nothing and shows its form again with
the reason: 400 for input the form refused, 409 for a rule the service refused. The
scope of a preview or a disclosure is always the server's decision, never the form's.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import AuthedRequest, role_required
from accounts.models import Role, User
from requests_app.delivery.handover import disclosures_of

if TYPE_CHECKING:
    from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.models import LegalRequest, ReviewState
from requests_app.lifecycle.states import OPEN_STATES, allowed_actions
from requests_app.review import services
from requests_app.review.disclosure import disclosure_preview, record_rows, scope_summary
from requests_app.review.forms import (
    AssessmentForm,
    AssignForm,
    ChecklistAndProposal,
    ClarificationForm,
    CloseForm,
    DiscloseForm,
    EmergencyCallbackForm,
    EmptyForm,
    ProposeApprovalForm,
    RejectForm,
    ResumeForm,
    SendBackForm,
    form_errors,
)
from requests_app.review.models import Assessment, Decision, EmergencyCallback
from requests_app.review.selectors import request_get_for_reviewer
from requests_app.review.services import ReviewRefused
from requests_app.sources.base import SourceUnavailable

reviewer_only = role_required(Role.REVIEWER)

# The request page (views_queue); every action returns there or to a page of its own.
REQUEST_PAGE = "review-request"

Errors = list[tuple[str, str]]


def request_page_url(legal_request: LegalRequest, anchor: str = "") -> str:
    url = reverse(REQUEST_PAGE, args=[legal_request.reference])
    return f"{url}#{anchor}" if anchor else url


# --- What the request page shows (its view puts ``review_tools(...)`` in as ``tools``) --------


@dataclass
class ReviewTools:
    """The decision tools a reviewer may use on one request now, with their forms."""

    legal_request: LegalRequest
    user: User
    actions: set[str]
    assignee: User | None
    assessment: Assessment | None
    callbacks: list[EmergencyCallback]
    callback_number: str
    callback_confirmed: bool
    proposed: Decision | None
    to_disclose: Decision | None
    disclosures: list["Disclosure"]
    forms: dict[str, Any] = field(default_factory=dict)

    @property
    def is_assignee(self) -> bool:
        return self.assignee is not None and self.assignee.pk == self.user.pk

    @property
    def own_proposal(self) -> bool:
        return self.proposed is not None and self.proposed.proposed_by_id == self.user.pk

    @property
    def has_tools(self) -> bool:
        return bool(self.forms) or self.proposed is not None or self.to_disclose is not None


def review_tools(*, legal_request: LegalRequest, user: User) -> ReviewTools:
    """The tools that the request's state allows, for ``user`` (a reviewer)."""
    status = legal_request.status
    actions = allowed_actions(status)
    review = ReviewState.objects.filter(request=legal_request).select_related("assignee").first()
    assignee = review.assignee if review else None
    assessment = (
        Assessment.objects.filter(request=legal_request).select_related("updated_by").first()
    )
    decisions = list(legal_request.decisions.select_related("proposed_by", "confirmed_by"))
    proposed = next((d for d in decisions if d.state == Decision.State.PROPOSED), None)
    disclosures = list(disclosures_of(legal_request))
    disclosed_ids = {d.decision_id for d in disclosures}
    to_disclose = next(
        (
            d
            for d in decisions
            if d.state == Decision.State.CONFIRMED
            and d.outcome != Decision.Outcome.REJECT
            and d.pk not in disclosed_ids
            and "deliver" in actions
        ),
        None,
    )
    callbacks = list(legal_request.emergency_callbacks.select_related("called_by"))
    number = legal_request.agency.callback_phone
    tools = ReviewTools(
        legal_request=legal_request,
        user=user,
        actions=actions,
        assignee=assignee,
        assessment=assessment,
        callbacks=callbacks,
        callback_number=number,
        callback_confirmed=any(
            c.outcome == EmergencyCallback.Outcome.CONFIRMED and c.number_called == number
            for c in callbacks
        ),
        proposed=proposed,
        to_disclose=to_disclose,
        disclosures=disclosures,
    )
    if "claim" in actions or (status in OPEN_STATES and not tools.is_assignee):
        tools.forms["claim"] = EmptyForm()
    if status in OPEN_STATES:
        tools.forms["assign"] = AssignForm(initial={"assignee": assignee})
    if status == LegalRequest.Status.IN_REVIEW:
        tools.forms["assess"] = AssessmentForm(items=assessment.items if assessment else None)
    if "ask_clarification" in actions:
        tools.forms["clarify"] = ClarificationForm()
    if legal_request.emergency and status in OPEN_STATES:
        tools.forms["callback"] = EmergencyCallbackForm()
    if "confirm_approval" in actions and proposed is None:
        tools.forms["propose"] = ProposeApprovalForm(legal_request=legal_request)
    if "assess" in tools.forms and "propose" in tools.forms:
        # One form, one click: the checklist and the proposal together (``decide``).
        tools.forms["decide"] = ChecklistAndProposal(
            legal_request=legal_request, items=assessment.items if assessment else None
        )
    if "reject" in actions:
        tools.forms["reject"] = RejectForm()
    if "resume" in actions:
        tools.forms["resume"] = ResumeForm()
    if "close" in actions:
        tools.forms["close"] = CloseForm()
    return tools


# --- Rendering ---------------------------------------------------------------------------


def _decision_of(legal_request: LegalRequest, decision_id: int) -> Decision:
    """A decision of this (already gatekept) request; another request's is "not found"."""
    decision = (
        Decision.objects.select_related("request__agency", "proposed_by", "confirmed_by")
        .filter(request=legal_request, pk=decision_id)
        .first()
    )
    if decision is None:
        raise Http404("No such decision.")
    return decision


def _refusal(refused: ReviewRefused) -> Errors:
    return [("", str(refused))]


ACTION_TITLES = {
    "claim": gettext_lazy("Claim the request"),
    "assign": gettext_lazy("Give the request to a colleague"),
    "assess": gettext_lazy("Assessment checklist"),
    "clarify": gettext_lazy("Ask the authority for clarification"),
    "callback": gettext_lazy("Record the emergency callback"),
    "propose": gettext_lazy("Approve in full or in part"),
    "decide": gettext_lazy("Checklist and proposal"),
    "reject": gettext_lazy("Reject the request"),
    "resume": gettext_lazy("Resume review without the authority's answer"),
    "close": gettext_lazy("Close the request"),
}
# Actions on a decision are refused on the decision's own page (preview or hand-over).
DECISION_PAGES = {
    "confirm": "requests_app/review/preview.html",
    "send_back": "requests_app/review/preview.html",
    "disclose": "requests_app/review/disclose.html",
}


def _refused_page(
    request: AuthedRequest,
    legal_request: LegalRequest,
    *,
    action: str,
    form: Any,
    errors: Errors,
    status: int,
    decision: Decision | None = None,
) -> HttpResponse:
    """Show a refused action's form again, with the reason at the top; nothing changed.

    Never looks records up: a refusal is not a preview (and writes no audit event).
    """
    if decision is not None and action in DECISION_PAGES:
        forms = {"confirm": "confirm_form", "send_back": "send_back_form", "disclose": "form"}
        return _decision_page(
            request,
            legal_request,
            decision,
            template=DECISION_PAGES[action],
            errors=errors,
            status=status,
            look_up=False,
            **{forms[action]: form},
        )
    return render(
        request,
        "requests_app/review/action.html",
        {
            "legal_request": legal_request,
            "action": action,
            "title": ACTION_TITLES[action],
            "form": form,
            "errors": errors,
            "tools": review_tools(legal_request=legal_request, user=request.user),
            "back_url": request_page_url(legal_request),
        },
        status=status,
    )


def _decision_page(
    request: AuthedRequest,
    legal_request: LegalRequest,
    decision: Decision,
    *,
    template: str = "requests_app/review/preview.html",
    errors: Errors | None = None,
    status: int = 200,
    look_up: bool = True,
    confirm_form: Any = None,
    send_back_form: Any = None,
    form: Any = None,
) -> HttpResponse:
    """A decision's page: its scope, the records it would disclose, and what can be done."""
    errors = list(errors or [])
    rows: list[dict[str, object]] | None = None
    if look_up:
        try:
            rows = record_rows(disclosure_preview(decision=decision, viewer=request.user))
        except ReviewRefused as refused:
            errors += _refusal(refused)
            status = 409
        except SourceUnavailable:
            errors.append(
                (
                    "",
                    gettext(
                        "The platform's data source did not answer, so no record is shown. "
                        "Try again."
                    ),
                )
            )
            status = 503
    tools = review_tools(legal_request=legal_request, user=request.user)
    return render(
        request,
        template,
        {
            "legal_request": legal_request,
            "decision": decision,
            "scope": scope_summary(decision),
            "rows": rows,
            "errors": errors,
            "tools": tools,
            "awaiting": decision.state == Decision.State.PROPOSED
            and "confirm_approval" in tools.actions,
            "own": decision.proposed_by_id == request.user.pk,
            "confirm_form": confirm_form or EmptyForm(),
            "send_back_form": send_back_form
            or SendBackForm(own=decision.proposed_by_id == request.user.pk),
            "disclose_form": form or DiscloseForm(),
            "disclosable": tools.to_disclose is not None and tools.to_disclose.pk == decision.pk,
            "back_url": request_page_url(legal_request),
        },
        status=status,
    )


def _run(
    request: AuthedRequest,
    legal_request: LegalRequest,
    *,
    action: str,
    form: Any,
    perform: Callable[[dict[str, Any]], str],
    done: Callable[[dict[str, Any]], str] | str,
    decision: Decision | None = None,
) -> HttpResponse:
    """Check ``form``, then ``perform`` it (it returns where to go next), or refuse."""
    if not form.is_valid():
        return _refused_page(
            request,
            legal_request,
            action=action,
            form=form,
            errors=form_errors(form),
            status=400,
            decision=decision,
        )
    try:
        next_url = perform(form.cleaned_data)
    except ReviewRefused as refused:
        return _refused_page(
            request,
            legal_request,
            action=action,
            form=form,
            errors=_refusal(refused),
            status=409,
            decision=decision,
        )
    messages.success(request, done(form.cleaned_data) if callable(done) else done)
    return HttpResponseRedirect(next_url)


# --- Taking a request --------------------------------------------------------------------


@reviewer_only
@never_cache
@require_POST
def claim(request: AuthedRequest, reference: str) -> HttpResponse:
    """Take the request: it is assigned to you and, if new, enters review."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(_: dict[str, Any]) -> str:
        services.request_claim(request=legal_request, reviewer=request.user)
        return request_page_url(legal_request)

    return _run(
        request,
        legal_request,
        action="claim",
        form=EmptyForm(request.POST),
        perform=perform,
        done=gettext("%(reference)s is yours.") % {"reference": legal_request.reference},
    )


@reviewer_only
@never_cache
@require_POST
def assign(request: AuthedRequest, reference: str) -> HttpResponse:
    """Give the request to a colleague of the legal team."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    form = AssignForm(request.POST)

    def perform(data: dict[str, Any]) -> str:
        services.request_assign(
            request=legal_request, reviewer=request.user, assignee=data["assignee"]
        )
        return request_page_url(legal_request)

    return _run(
        request,
        legal_request,
        action="assign",
        form=form,
        perform=perform,
        done=lambda data: (
            gettext("%(reference)s is now with %(name)s.")
            % {"reference": legal_request.reference, "name": data["assignee"].full_name}
        ),
    )


# --- Assessment, clarification, callback ---------------------------------------------------


@reviewer_only
@never_cache
@require_POST
def assess(request: AuthedRequest, reference: str) -> HttpResponse:
    """Save the checklist: each item satisfied or not, with a note."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    form = AssessmentForm(request.POST)

    def perform(_: dict[str, Any]) -> str:
        services.assessment_save(request=legal_request, reviewer=request.user, items=form.items())
        return request_page_url(legal_request, "assessment")

    return _run(
        request,
        legal_request,
        action="assess",
        form=form,
        perform=perform,
        done=gettext("The checklist is saved."),
    )


@reviewer_only
@never_cache
@require_POST
def clarify(request: AuthedRequest, reference: str) -> HttpResponse:
    """Ask the authority a question; the deadline clock stops until it answers."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(data: dict[str, Any]) -> str:
        services.clarification_ask(request=legal_request, reviewer=request.user, body=data["body"])
        return request_page_url(legal_request, "messages")

    return _run(
        request,
        legal_request,
        action="clarify",
        form=ClarificationForm(request.POST),
        perform=perform,
        done=gettext(
            "The question was sent. The deadline clock is paused until the authority answers."
        ),
    )


@reviewer_only
@never_cache
@require_POST
def callback(request: AuthedRequest, reference: str) -> HttpResponse:
    """Record a call to the agency's number on file (the number is never typed in)."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(data: dict[str, Any]) -> str:
        services.emergency_callback_record(
            request=legal_request,
            reviewer=request.user,
            outcome=data["outcome"],
            note=data["note"],
        )
        return request_page_url(legal_request, "callback")

    return _run(
        request,
        legal_request,
        action="callback",
        form=EmergencyCallbackForm(request.POST),
        perform=perform,
        done=gettext("The call to %(number)s was recorded.")
        % {"number": legal_request.agency.callback_phone},
    )


# --- Decisions -----------------------------------------------------------------------------


@reviewer_only
@never_cache
@require_POST
def propose(request: AuthedRequest, reference: str) -> HttpResponse:
    """Propose to approve in full or in part; the next page previews the records."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    form = ProposeApprovalForm(request.POST, legal_request=legal_request)

    def perform(data: dict[str, Any]) -> str:
        decision = services.decision_propose_approval(
            request=legal_request,
            reviewer=request.user,
            target_ids=data["targets"],
            categories=data["categories"],
            period_from=data["period_from"],
            period_to=data["period_to"],
            message=data["message"],
            note=data["note"],
        )
        return reverse("review-preview", args=[legal_request.reference, decision.pk])

    return _run(
        request,
        legal_request,
        action="propose",
        form=form,
        perform=perform,
        done=gettext(
            "The approval is proposed. Check the records below: a second reviewer must "
            "confirm it before anything is disclosed."
        ),
    )


@reviewer_only
@never_cache
@require_POST
def decide(request: AuthedRequest, reference: str) -> HttpResponse:
    """Save the checklist and, with "Save and propose", propose the approval: one click.

    Nothing is saved unless everything asked for is done: a proposal refused (an item not
    satisfied, a scope beyond the request, a proposal already waiting) leaves the
    checklist as it was, and the form comes back with what was typed and the reason.
    """
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    form = ChecklistAndProposal(request.POST, legal_request=legal_request)
    if not form.is_valid():
        return _refused_page(
            request,
            legal_request,
            action="decide",
            form=form,
            errors=form.errors(),
            status=400,
        )
    proposal = None
    if form.proposing:
        data = form.proposal.cleaned_data
        proposal = {
            "target_ids": data["targets"],
            "categories": data["categories"],
            "period_from": data["period_from"],
            "period_to": data["period_to"],
            "message": data["message"],
            "note": data["note"],
        }
    try:
        _, decision = services.assessment_save_and_propose(
            request=legal_request,
            reviewer=request.user,
            items=form.checklist.items(),
            proposal=proposal,
        )
    except ReviewRefused as refused:
        return _refused_page(
            request,
            legal_request,
            action="decide",
            form=form,
            errors=_refusal(refused),
            status=409,
        )
    if decision is None:
        messages.success(request, gettext("The checklist is saved."))
        return HttpResponseRedirect(request_page_url(legal_request, "assessment"))
    messages.success(
        request,
        gettext(
            "The checklist is saved and the approval proposed. Check the records below: a "
            "second reviewer must confirm it before anything is disclosed."
        ),
    )
    return HttpResponseRedirect(
        reverse("review-preview", args=[legal_request.reference, decision.pk])
    )


@reviewer_only
@never_cache
@require_GET
def preview(request: AuthedRequest, reference: str, decision_id: int) -> HttpResponse:
    """Show exactly the records that a decision would disclose, looked up now (audited)."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    decision = _decision_of(legal_request, decision_id)
    if request.GET:
        # The scope is the decision's: a preview takes no parameters, so a link that tries
        # to change it is refused rather than quietly shown something else.
        return _decision_page(
            request,
            legal_request,
            decision,
            errors=[
                ("", gettext("A preview shows the decision's own scope; it takes no parameters."))
            ],
            status=400,
            look_up=False,
        )
    return _decision_page(request, legal_request, decision)


@reviewer_only
@never_cache
@require_POST
def confirm(request: AuthedRequest, reference: str, decision_id: int) -> HttpResponse:
    """The second reviewer confirms a proposed approval: the request is approved."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    decision = _decision_of(legal_request, decision_id)

    def perform(_: dict[str, Any]) -> str:
        services.decision_confirm(decision=decision, reviewer=request.user)
        return reverse("review-disclose", args=[legal_request.reference, decision.pk])

    return _run(
        request,
        legal_request,
        action="confirm",
        form=EmptyForm(request.POST),
        perform=perform,
        done=gettext("The approval is confirmed. Hand it to delivery when you are ready."),
        decision=decision,
    )


@reviewer_only
@never_cache
@require_POST
def send_back(request: AuthedRequest, reference: str, decision_id: int) -> HttpResponse:
    """Do not confirm a proposal (or withdraw your own), with a note saying why."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    decision = _decision_of(legal_request, decision_id)
    own = decision.proposed_by_id == request.user.pk

    def perform(data: dict[str, Any]) -> str:
        services.decision_send_back(decision=decision, reviewer=request.user, note=data["note"])
        return request_page_url(legal_request, "decision")

    return _run(
        request,
        legal_request,
        action="send_back",
        form=SendBackForm(request.POST, own=own),
        perform=perform,
        done=gettext("You withdrew your proposal.")
        if own
        else gettext("The proposal was sent back."),
        decision=decision,
    )


@reviewer_only
@never_cache
@require_POST
def resume(request: AuthedRequest, reference: str) -> HttpResponse:
    """Resume review of a request awaiting clarification, with a reason; the clock runs."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(data: dict[str, Any]) -> str:
        services.clarification_resume(
            request=legal_request, reviewer=request.user, note=data["note"]
        )
        return request_page_url(legal_request)

    return _run(
        request,
        legal_request,
        action="resume",
        form=ResumeForm(request.POST),
        perform=perform,
        done=gettext("Review resumed; the deadline clock runs again."),
    )


@reviewer_only
@never_cache
@require_POST
def close(request: AuthedRequest, reference: str) -> HttpResponse:
    """Close a request the platform is done with, with a reason."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(data: dict[str, Any]) -> str:
        services.request_close(request=legal_request, reviewer=request.user, note=data["note"])
        return request_page_url(legal_request)

    return _run(
        request,
        legal_request,
        action="close",
        form=CloseForm(request.POST),
        perform=perform,
        done=gettext("%(reference)s is closed.") % {"reference": legal_request.reference},
    )


@reviewer_only
@never_cache
@require_POST
def reject(request: AuthedRequest, reference: str) -> HttpResponse:
    """Reject with a reason code and a message that the authority reads."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)

    def perform(data: dict[str, Any]) -> str:
        services.decision_reject(
            request=legal_request,
            reviewer=request.user,
            reason_code=data["reason_code"],
            message=data["message"],
            note=data["note"],
        )
        return request_page_url(legal_request)

    return _run(
        request,
        legal_request,
        action="reject",
        form=RejectForm(request.POST),
        perform=perform,
        done=gettext("%(reference)s is rejected; the authority was told.")
        % {"reference": legal_request.reference},
    )


@reviewer_only
@never_cache
@require_http_methods(["GET", "POST"])
def disclose(request: AuthedRequest, reference: str, decision_id: int) -> HttpResponse:
    """Hand a confirmed approval to delivery, after one more look at its records."""
    legal_request = request_get_for_reviewer(user=request.user, reference=reference)
    decision = _decision_of(legal_request, decision_id)
    if request.method == "GET":
        return _decision_page(
            request, legal_request, decision, template="requests_app/review/disclose.html"
        )
    form = DiscloseForm(request.POST)

    def perform(data: dict[str, Any]) -> str:
        services.disclosure_create(decision=decision, reviewer=request.user, note=data["note"])
        return request_page_url(legal_request, "decision")

    return _run(
        request,
        legal_request,
        action="disclose",
        form=form,
        perform=perform,
        done=gettext(
            "Handed to delivery: the response is sealed to the authority's keys and they are "
            "told it is ready."
        ),
        decision=decision,
    )
