"""The reviewers' user-notice page, included by ``project.urls`` at ``/review/notices/``."""

from django.urls import path

from requests_app.review import views_notices as views

urlpatterns = [
    path("", views.notices_list, name="user-notices"),
    path("<int:notice_id>/", views.notice_handle, name="user-notice-handle"),
]
