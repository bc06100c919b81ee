"""The reviewers' user-notice page: the notices due, each with a form, then the latest
handled. Reviewers only; marking a notice done or waived goes through the services of
``notices``, which audit it.
"""

from dataclasses import dataclass
from datetime import date

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from requests_app.lifecycle.models import ReviewState
from requests_app.review.models import UserNotice
from requests_app.review.notices import (
    MAX_NOTE_LENGTH,
    notice_without_order,
    user_notice_get_for_reviewer,
    user_notice_mark_done,
    user_notice_waive,
    user_notices_due,
    user_notices_recent,
)
from requests_app.review.services import ReviewRefused

PAGE_LIMIT = 200  # due notices shown at once


class NoticeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[(UserNotice.State.DONE, "done"), (UserNotice.State.WAIVED, "waived")]
    )
    note = forms.CharField(
        required=False, max_length=MAX_NOTE_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


@dataclass(frozen=True)
class NoticeRow:
    notice: UserNotice
    non_disclosure_until: date | None


def _rows(notices: QuerySet[UserNotice]) -> list[NoticeRow]:
    rows = []
    for notice in notices:
        try:
            until = notice.request.review.non_disclosure_until
        except ReviewState.DoesNotExist:
            until = None
        rows.append(NoticeRow(notice=notice, non_disclosure_until=until))
    return rows


reviewer_only = role_required(Role.REVIEWER)


@reviewer_only
@never_cache
@require_GET
def notices_list(request: AuthedRequest) -> HttpResponse:
    """The user-notice list: due notices with a form each, then the latest handled."""
    due = user_notices_due(user=request.user)
    return render(
        request,
        "requests_app/review/notices/list.html",
        {
            "due": _rows(due[:PAGE_LIMIT]),
            "due_count": due.count(),
            "page_limit": PAGE_LIMIT,
            "recent": _rows(user_notices_recent(user=request.user)),
            "without_order": notice_without_order(),
        },
    )


@reviewer_only
@never_cache
@require_POST
def notice_handle(request: AuthedRequest, notice_id: int) -> HttpResponse:
    """Mark one notice done, or waived with a reason."""
    notice = user_notice_get_for_reviewer(user=request.user, notice_id=notice_id)
    form = NoticeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the users were notified."))
        return HttpResponseRedirect(reverse("user-notices"))
    try:
        if form.cleaned_data["outcome"] == UserNotice.State.DONE:
            user_notice_mark_done(
                notice=notice, reviewer=request.user, note=form.cleaned_data["note"]
            )
            messages.success(
                request,
                _("%(reference)s: users notified, recorded.")
                % {"reference": notice.request.reference},
            )
        else:
            user_notice_waive(notice=notice, reviewer=request.user, note=form.cleaned_data["note"])
            messages.success(
                request,
                _("%(reference)s: not notified, reason recorded.")
                % {"reference": notice.request.reference},
            )
    except ReviewRefused as refused:
        messages.error(
            request,
            _("%(reference)s: %(refusal)s")
            % {"reference": notice.request.reference, "refusal": refused},
        )
    return HttpResponseRedirect(reverse("user-notices"))
