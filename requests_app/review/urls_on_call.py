"""The on-call list's staff page, included by ``project.urls`` at ``/staff/``."""

from django.urls import path

from requests_app.review import views_on_call as views

urlpatterns = [
    path("on-call/", views.on_call_list, name="staff-on-call"),
    path("on-call/add/", views.on_call_add_view, name="staff-on-call-add"),
    path("on-call/remove/", views.on_call_remove_view, name="staff-on-call-remove"),
]
