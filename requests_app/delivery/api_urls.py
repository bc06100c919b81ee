"""Delivery's API endpoints; ``project.api_urls`` includes them under ``/api/v1/``."""

from django.urls import path

from requests_app.delivery.api import ResponseDownloadView, SubmissionResponsesView

urlpatterns = [
    path(
        "submissions/<str:reference>/responses",
        SubmissionResponsesView.as_view(),
        name="api-submission-responses",
    ),
    path(
        "responses/<int:response_id>/download",
        ResponseDownloadView.as_view(),
        name="api-response-download",
    ),
]
