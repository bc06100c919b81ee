"""The staff's dashboard: who may see it, its hand-computed numbers, publication, teams."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import Role
from portal.models import AuditEvent
from requests_app.transparency.models import ReviewTeam, ReviewTeamMember, Snapshot
from requests_app.transparency.selectors import (
    queue_load,
    rejections_by_code,
    team_compliance,
)
from requests_app.transparency.services import (
    TransparencyRefused,
    review_team_create,
    review_team_member_add,
)
from tests.factories import log_in, make_agency, make_officer, make_user, make_vetting_admin
from tests.requests_app.factories import make_reviewer
from tests.requests_app.transparency.fixture import AS_OF, PERIOD

pytestmark = pytest.mark.django_db


# --- Who may see what ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client) -> None:
    response = client.get("/staff/transparency/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_officer_is_refused_the_dashboard(client) -> None:
    officer = make_officer(agency=make_agency())
    log_in(client, officer.user)

    assert client.get("/staff/transparency/").status_code == 403
    assert client.get("/staff/transparency/teams/").status_code == 403


def test_reviewers_see_the_dashboard_but_cannot_publish_or_change_teams(client, quarter) -> None:
    log_in(client, quarter.r1)

    page = client.get("/staff/transparency/?period=2026-Q2")
    assert page.status_code == 200
    assert "/staff/transparency/publish/" not in page.content.decode()
    assert client.get("/staff/transparency/publish/?period=2026-Q2").status_code == 403
    response = client.post("/staff/transparency/teams/new/", {"name": "Night shift"})
    assert response.status_code == 403
    assert not ReviewTeam.objects.filter(name="Night shift").exists()


def test_the_selectors_refuse_an_officer(quarter) -> None:
    officer = make_officer(agency=quarter.agencies["DE"])

    with pytest.raises(PermissionDenied):
        queue_load(user=officer.user)
    with pytest.raises(PermissionDenied):
        team_compliance(user=officer.user, period=PERIOD)


# --- The numbers -------------------------------------------------------------------------------


def test_rejections_per_code_and_week_match_the_fixture(quarter) -> None:
    series = rejections_by_code(user=quarter.r1, period=PERIOD)

    assert series.unit == "week"
    assert series.buckets[0] == date(2026, 3, 30)
    assert series.buckets[-1] == date(2026, 6, 29)
    assert len(series.buckets) == 14
    assert series.codes == [
        "unknown_key",
        "policy_violation",
        "bad_signature",
        "key_not_active",
        "stale",
    ]
    assert series.counts["policy_violation"][0] == 2
    assert series.counts["unknown_key"][5] == 3
    assert series.counts["key_not_active"][7] == 1
    assert series.counts["stale"][13] == 1
    assert series.totals == [3, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 1]


def test_deadline_compliance_per_team_matches_the_fixture(quarter) -> None:
    rows = team_compliance(user=quarter.r1, period=PERIOD, now=AS_OF)

    assert [
        (
            r.label,
            r.requests,
            r.answered,
            r.answered_within_deadline,
            r.unanswered_past_deadline,
            r.within_percent,
        )
        for r in rows
    ] == [
        ("Europe desk", 7, 5, 4, 1, 66.7),
        ("Assignee in no team", 5, 5, 4, 0, 80.0),
        ("Not assigned to anyone", 3, 0, 0, 1, 0.0),
    ]


def test_the_queue_load_matches_the_fixture(quarter) -> None:
    load = queue_load(user=quarter.r1, now=AS_OF)

    assert load.total == 7
    assert [(status, n) for status, _, n in load.by_status] == [
        ("received", 3),
        ("in_review", 1),
        ("awaiting_clarification", 1),
        ("approved", 2),
    ]
    assert (load.emergency, load.overdue, load.due_soon, load.unassigned) == (1, 2, 1, 3)
    assert [(g.label, g.open, g.emergency, g.overdue, g.due_soon) for g in load.by_team] == [
        ("Europe desk", 2, 0, 1, 0),
        ("Assignee in no team", 2, 0, 0, 0),
        ("Not assigned to anyone", 3, 1, 1, 1),
    ]


def test_the_dashboard_shows_live_figures_unsuppressed_to_staff(client, quarter) -> None:
    log_in(client, quarter.r2)

    page = client.get("/staff/transparency/?period=2026-Q2").content.decode()

    assert "Luxembourg" in page  # staff see the small country the public does not
    assert "Europe desk" in page
    assert "<code>unknown_key</code>" in page
    assert 'role="img"' in page


def test_a_custom_range_is_shown_but_not_offered_for_publication(client, quarter) -> None:
    log_in(client, make_vetting_admin())

    page = client.get(
        "/staff/transparency/?period=custom&date_from=2026-04-01&date_to=2026-04-30"
    ).content.decode()

    assert "Apr. 1, 2026 to Apr. 30, 2026"  # Django's DATE_FORMAT in English in page
    assert "/staff/transparency/publish/" not in page


def test_a_reversed_custom_range_is_refused_with_the_reason(client, quarter) -> None:
    log_in(client, quarter.r1)

    response = client.get(
        "/staff/transparency/?period=custom&date_from=2026-05-01&date_to=2026-04-01"
    )

    assert response.status_code == 400
    assert "must start on or before" in response.content.decode()


# --- Publishing through the pages ----------------------------------------------------------


def test_an_administrator_publishes_what_the_confirmation_page_showed(
    client, quarter, django_capture_on_commit_callbacks
) -> None:
    admin = make_vetting_admin()
    log_in(client, admin)
    dashboard = client.get("/staff/transparency/?period=2026-Q2").content.decode()
    assert 'href="/staff/transparency/publish/?period=2026-Q2"' in dashboard
    confirm = client.get("/staff/transparency/publish/?period=2026-Q2")
    assert confirm.status_code == 200
    fingerprint = confirm.context["form"].initial["fingerprint"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/staff/transparency/publish/",
            {"period": "2026-Q2", "fingerprint": fingerprint, "reason": ""},
        )

    assert response.status_code == 302
    snapshot = Snapshot.objects.get()
    assert snapshot.published_by == admin
    public = client.get("/transparency/?period=2026-Q2").content.decode()
    assert "April to June 2026" in public


def test_a_stale_confirmation_page_publishes_nothing(client, quarter) -> None:
    log_in(client, make_vetting_admin())

    response = client.post(
        "/staff/transparency/publish/",
        {"period": "2026-Q2", "fingerprint": "0" * 64, "reason": ""},
    )

    assert response.status_code == 409
    assert "changed since you looked" in response.content.decode()
    assert not Snapshot.objects.exists()


# --- Teams ------------------------------------------------------------------------------------


def test_an_administrator_creates_a_team_and_moves_a_reviewer_into_it(client, quarter) -> None:
    admin = make_vetting_admin()
    log_in(client, admin)

    assert client.post("/staff/transparency/teams/new/", {"name": "Americas"}).status_code == 302
    team = ReviewTeam.objects.get(name="Americas")
    response = client.post(
        "/staff/transparency/teams/members/", {"reviewer": quarter.r1.pk, "team": team.pk}
    )

    assert response.status_code == 302
    assert ReviewTeamMember.objects.get(user=quarter.r1).team == team
    actions = list(
        AuditEvent.objects.filter(action__startswith="review_team.").values_list(
            "action", "data__before", "data__after"
        )
    )
    assert actions == [
        ("review_team.created", None, None),
        ("review_team.member_added", quarter.team.pk, team.pk),
    ]


def test_a_reviewer_is_removed_from_a_team_and_an_empty_team_deleted(client, quarter) -> None:
    log_in(client, make_vetting_admin())

    client.post(f"/staff/transparency/teams/members/{quarter.r1.pk}/remove/")
    client.post(f"/staff/transparency/teams/{quarter.team.pk}/delete/")

    assert not ReviewTeamMember.objects.filter(user=quarter.r1).exists()
    assert not ReviewTeam.objects.filter(pk=quarter.team.pk).exists()


def test_a_team_with_members_is_not_deleted(client, quarter) -> None:
    log_in(client, make_vetting_admin())

    client.post(f"/staff/transparency/teams/{quarter.team.pk}/delete/")

    assert ReviewTeam.objects.filter(pk=quarter.team.pk).exists()


def test_only_reviewers_join_teams_and_names_are_unique(quarter) -> None:
    admin = make_vetting_admin()
    other_admin = make_user(role=Role.VETTING_ADMIN)

    with pytest.raises(TransparencyRefused, match="Only reviewers"):
        review_team_member_add(actor=admin, team=quarter.team, reviewer=other_admin)
    with pytest.raises(TransparencyRefused, match="already a team"):
        review_team_create(actor=admin, name="europe  DESK")
    with pytest.raises(TransparencyRefused, match="vetting administrator"):
        review_team_create(actor=make_reviewer(), name="Rogue team")
