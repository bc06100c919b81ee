"""The API under /api/v1/: each layer's endpoints, and the schema and its documentation."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from portal.access import public

urlpatterns = [
    path("", include("requests_app.intake.api_urls")),  # submissions, the busiest, first
    path("", include("accounts.api_urls")),
    path("", include("requests_app.officer.api_urls")),
    path("", include("requests_app.delivery.api_urls")),
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
