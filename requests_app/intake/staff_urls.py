"""The staff page of intake rejections; ``project.urls`` includes it at ``/staff/``."""

from django.urls import path

from requests_app.intake import staff_views

urlpatterns = [
    path("rejections/", staff_views.rejections, name="staff-rejections"),
]
