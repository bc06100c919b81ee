"""The officer's API endpoints; ``portal.api_urls`` includes them under ``/api/v1/``."""

from django.urls import path

from ..officer_api import SubmissionMessagesView, SubmissionWithdrawView

urlpatterns = [
    path(
        "submissions/<str:reference>/messages",
        SubmissionMessagesView.as_view(),
        name="api-submission-messages",
    ),
    path(
        "submissions/<str:reference>/withdraw",
        SubmissionWithdrawView.as_view(),
        name="api-submission-withdraw",
    ),
]
