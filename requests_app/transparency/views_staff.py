"""The staff's transparency dashboard, publication of a period, and the reviewer teams.

Reviewers and vetting administrators see the dashboard: live figures (unsuppressed, so
never public), intake rejections by code over time (a rise of one code is the first
sign of an attack), deadline compliance per reviewer team and the queue now. Only
vetting administrators publish and manage teams. Thin views: ``selectors`` reads and
checks the reader, ``services`` writes.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import AuthedRequest, role_required
from accounts.models import Role
from portal.countries import name_key
from portal.forms import form_errors
from requests_app.transparency.cache import LIVE_SECONDS
from requests_app.transparency.charts import Series, bar_chart, strip_chart
from requests_app.transparency.forms import (
    PublishForm,
    StaffPeriodForm,
    TeamCreateForm,
    TeamMemberForm,
)
from requests_app.transparency.periods import Period, PeriodInvalid, period_parse
from requests_app.transparency.report import SMALL_COUNT, area_label, areas
from requests_app.transparency.selectors import (
    live_figures,
    publish_preview,
    queue_load,
    rejections_by_code,
    reviewer_get_for_admin,
    snapshots_recent,
    team_compliance,
    team_get_for_admin,
    teams_overview,
)
from requests_app.transparency.services import (
    TransparencyRefused,
    current_snapshot,
    review_team_create,
    review_team_delete,
    review_team_member_add,
    review_team_member_remove,
    snapshot_publish,
)

staff_only = role_required(Role.REVIEWER, Role.VETTING_ADMIN)
vetting_admin = role_required(Role.VETTING_ADMIN)


def _bucket_label(unit: str, day: Any) -> str:
    if unit == "month":
        return formats.date_format(day, "YEAR_MONTH_FORMAT")
    return _("week of %(day)s") % {"day": formats.date_format(day, "MONTH_DAY_FORMAT")}


@staff_only
@never_cache
@require_GET
def dashboard(request: AuthedRequest) -> HttpResponse:
    """Live figures of a period, rejections by code, compliance per team, the queue now."""
    now = timezone.now()
    today = now.date()
    default = Period.quarter_of(today)
    if "period" in request.GET:
        form = StaffPeriodForm(request.GET, today=today)
    else:
        form = StaffPeriodForm(initial={"period": default.key}, today=today)
    context: dict[str, Any] = {"form": form, "errors": [], "live_minutes": LIVE_SECONDS // 60}
    if form.is_bound and not form.is_valid():
        context["errors"] = form_errors(form)
        return render(request, "transparency/staff/dashboard.html", context, status=400)
    period = form.chosen() if form.is_bound else default
    figures = live_figures(user=request.user, period=period, fresh=bool(request.GET.get("fresh")))
    countries = sorted(
        figures.countries.items(),
        key=lambda item: (-item[1].received, name_key(area_label(item[0]))),
    )
    rejections = rejections_by_code(user=request.user, period=period)
    labels = [_bucket_label(rejections.unit, day) for day in rejections.buckets]
    compliance = team_compliance(user=request.user, period=period, now=now)
    context.update(
        period=period,
        figures=figures,
        countries=[(code, area_label(code), f) for code, f in countries],
        small_count=SMALL_COUNT,
        published=current_snapshot(period.key),
        can_publish=(
            request.user.role == Role.VETTING_ADMIN and period.publishable and period.has_ended(now)
        ),
        rejections=rejections,
        rejection_labels=labels,
        rejection_rows=[
            (label, counts, total)
            for label, (_, counts, total) in zip(labels, rejections.rows, strict=True)
        ],
        rejection_chart=strip_chart(
            [(code, rejections.counts[code]) for code in rejections.codes], labels
        ),
        compliance=compliance,
        compliance_chart=bar_chart(
            [(row.label, [row.within_percent]) for row in compliance],
            [Series("within", _("Within the deadline"), "series-1")],
            maximum=100,
            value_suffix="%",
            label_width=220,
            missing_text=_("nothing due yet"),
        ),
        queue=queue_load(user=request.user, now=now),
        snapshots=snapshots_recent(user=request.user),
        is_admin=request.user.role == Role.VETTING_ADMIN,
    )
    return render(request, "transparency/staff/dashboard.html", context)


def _publish_page(
    request: AuthedRequest,
    period: Period,
    *,
    form: PublishForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    preview = publish_preview(user=request.user, period=period)
    if form is None:
        form = PublishForm(initial={"period": period.key, "fingerprint": preview.fingerprint})
    else:
        # Show the figures as they are now, and approve those on the next press.
        form = PublishForm(
            initial={
                "period": period.key,
                "fingerprint": preview.fingerprint,
                "reason": form.data.get("reason", ""),
            }
        )
    context = {
        "period": period,
        "preview": preview,
        "rows": [(code, area_label(code), figures) for code, figures in areas(preview.document)],
        "form": form,
        "errors": errors or [],
        "small_count": SMALL_COUNT,
    }
    return render(request, "transparency/staff/publish.html", context, status=status)


@vetting_admin
@never_cache
@require_http_methods(["GET", "POST"])
def publish(request: AuthedRequest) -> HttpResponse:
    """Show exactly what a publication would freeze; publish it on confirmation."""
    if request.method == "GET":
        try:
            period = period_parse(request.GET.get("period", ""))
        except PeriodInvalid as problem:
            messages.error(request, str(problem))
            return HttpResponseRedirect(reverse("staff-transparency"))
        return _publish_page(request, period)
    form = PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The publication form was incomplete; look again."))
        return HttpResponseRedirect(reverse("staff-transparency"))
    chosen: Period = form.cleaned_data["period"]
    try:
        snapshot = snapshot_publish(
            actor=request.user,
            period=chosen,
            reason=form.cleaned_data["reason"],
            expected_fingerprint=form.cleaned_data["fingerprint"],
        )
    except TransparencyRefused as refused:
        return _publish_page(
            request, chosen, form=form, errors=[("id_reason", str(refused))], status=409
        )
    if snapshot.is_correction:
        done = _("The figures of %(period)s are corrected; the public page shows them.")
    else:
        done = _("The figures of %(period)s are published; the public page shows them.")
    messages.success(request, done % {"period": chosen.label})
    return HttpResponseRedirect(reverse("staff-transparency") + f"?period={chosen.key}")


# --- Teams ------------------------------------------------------------------------------------


def _teams_page(
    request: AuthedRequest,
    *,
    create_form: TeamCreateForm | None = None,
    member_form: TeamMemberForm | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    overview = teams_overview(user=request.user)
    reviewers = [
        *(
            (member.pk, _("%(name)s (%(team)s)") % {"name": member.full_name, "team": team.name})
            for team in overview.teams
            for member in team.member_list  # type: ignore[attr-defined]
        ),
        *(
            (user.pk, _("%(name)s (no team)") % {"name": user.full_name})
            for user in overview.without_team
        ),
    ]
    context = {
        "overview": overview,
        "is_admin": request.user.role == Role.VETTING_ADMIN,
        "create_form": create_form or TeamCreateForm(),
        "member_form": member_form
        or TeamMemberForm(
            reviewers=sorted(reviewers, key=lambda item: item[1]),
            teams=[(team.pk, team.name) for team in overview.teams],
        ),
        "errors": errors or [],
    }
    return render(request, "transparency/staff/teams.html", context, status=status)


@staff_only
@never_cache
@require_GET
def teams(request: AuthedRequest) -> HttpResponse:
    """The review teams and their members (vetting administrators change them)."""
    return _teams_page(request)


@vetting_admin
@require_POST
def team_create(request: AuthedRequest) -> HttpResponse:
    form = TeamCreateForm(request.POST)
    if form.is_valid():
        try:
            team = review_team_create(actor=request.user, name=form.cleaned_data["name"])
        except TransparencyRefused as refused:
            form.add_error("name", str(refused))
        else:
            messages.success(request, _("The team “%(team)s” is created.") % {"team": team.name})
            return HttpResponseRedirect(reverse("staff-transparency-teams"))
    return _teams_page(request, create_form=form, errors=form_errors(form), status=400)


@vetting_admin
@require_POST
def team_member_add(request: AuthedRequest) -> HttpResponse:
    overview = teams_overview(user=request.user)
    reviewer_ids = [u.pk for u in overview.without_team] + [
        m.pk
        for t in overview.teams
        for m in t.member_list  # type: ignore[attr-defined]
    ]
    form = TeamMemberForm(
        request.POST,
        reviewers=[(pk, str(pk)) for pk in reviewer_ids],
        teams=[(t.pk, t.name) for t in overview.teams],
    )
    if form.is_valid():
        team = team_get_for_admin(user=request.user, team_id=form.cleaned_data["team"])
        reviewer = reviewer_get_for_admin(
            user=request.user, reviewer_id=form.cleaned_data["reviewer"]
        )
        try:
            review_team_member_add(actor=request.user, team=team, reviewer=reviewer)
        except TransparencyRefused as refused:
            form.add_error("reviewer", str(refused))
        else:
            messages.success(
                request,
                _("%(name)s is now in %(team)s.") % {"name": reviewer.full_name, "team": team.name},
            )
            return HttpResponseRedirect(reverse("staff-transparency-teams"))
    return _teams_page(request, errors=form_errors(form), status=400)


@vetting_admin
@require_POST
def team_member_remove(request: AuthedRequest, reviewer_id: int) -> HttpResponse:
    reviewer = reviewer_get_for_admin(user=request.user, reviewer_id=reviewer_id)
    try:
        review_team_member_remove(actor=request.user, reviewer=reviewer)
    except TransparencyRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("%(name)s is in no team now.") % {"name": reviewer.full_name})
    return HttpResponseRedirect(reverse("staff-transparency-teams"))


@vetting_admin
@require_POST
def team_delete(request: AuthedRequest, team_id: int) -> HttpResponse:
    team = team_get_for_admin(user=request.user, team_id=team_id)
    try:
        review_team_delete(actor=request.user, team=team)
    except TransparencyRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("The team “%(team)s” is deleted.") % {"team": team.name})
    return HttpResponseRedirect(reverse("staff-transparency-teams"))
