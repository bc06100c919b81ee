"""Intake's API endpoints; ``project.api_urls`` includes them under ``/api/v1/``."""

from django.urls import path

from accounts.access import public
from requests_app.intake.api import PortalKeyView, SubmissionDetailView, SubmissionsView

urlpatterns = [
    path("submissions", SubmissionsView.as_view(), name="api-submissions"),
    path("submissions/<str:reference>", SubmissionDetailView.as_view(), name="api-submission"),
    path("portal-key", public(PortalKeyView.as_view()), name="api-portal-key"),
]
