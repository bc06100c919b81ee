"""The staff's transparency pages, included by ``project.urls`` at ``/staff/transparency/``."""

from django.urls import path

from requests_app.transparency import views_staff

urlpatterns = [
    path("", views_staff.dashboard, name="staff-transparency"),
    path("publish/", views_staff.publish, name="staff-transparency-publish"),
    path("teams/", views_staff.teams, name="staff-transparency-teams"),
    path("teams/new/", views_staff.team_create, name="staff-transparency-team-create"),
    path("teams/members/", views_staff.team_member_add, name="staff-transparency-member-add"),
    path(
        "teams/members/<int:reviewer_id>/remove/",
        views_staff.team_member_remove,
        name="staff-transparency-member-remove",
    ),
    path(
        "teams/<int:team_id>/delete/",
        views_staff.team_delete,
        name="staff-transparency-team-delete",
    ),
]
