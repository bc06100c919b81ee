"""The officer's API endpoints on a request; ``project.api_urls`` includes them."""

from django.urls import path

from requests_app.officer.api import (
    SubmissionMessagesView,
    SubmissionReceiptView,
    SubmissionWithdrawView,
)
from requests_app.officer.audit_api import AuditInclusionView, RequestAuditEventsView

urlpatterns = [
    path(
        "submissions/<str:reference>/messages",
        SubmissionMessagesView.as_view(),
        name="api-submission-messages",
    ),
    path(
        "submissions/<str:reference>/receipt",
        SubmissionReceiptView.as_view(),
        name="api-submission-receipt",
    ),
    path(
        "submissions/<str:reference>/withdraw",
        SubmissionWithdrawView.as_view(),
        name="api-submission-withdraw",
    ),
    path(
        "submissions/<str:reference>/audit-events",
        RequestAuditEventsView.as_view(),
        name="api-submission-audit-events",
    ),
    path("audit/inclusion", AuditInclusionView.as_view(), name="api-audit-inclusion"),
]
