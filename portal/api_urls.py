"""The API under /api/v1/: its schema and documentation; each app adds its endpoints."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from accounts.access import public
from accounts.api import MeView
from requests_app.api import PortalKeyView, SubmissionDetailView, SubmissionsView
from requests_app.delivery.api import ResponseDownloadView, SubmissionResponsesView
from requests_app.officer_api import SubmissionMessagesView, SubmissionWithdrawView

urlpatterns = [
    path("me", MeView.as_view(), name="api-me"),
    path("submissions", SubmissionsView.as_view(), name="api-submissions"),
    path(
        "submissions/<str:reference>",
        SubmissionDetailView.as_view(),
        name="api-submission",
    ),
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
    path("portal-key", public(PortalKeyView.as_view()), name="api-portal-key"),
    path("audit/", include("portal.audit_urls")),
    # Public documentation: the same for every visitor, logged in or not, of any standing.
    path(
        "schema",
        public(
            SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[])
        ),
        name="api-schema",
    ),
    path(
        "docs",
        public(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", permission_classes=[AllowAny], authentication_classes=[]
            )
        ),
        name="api-docs",
    ),
]
