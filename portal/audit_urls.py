"""The audit log's API under /api/v1/audit/ (portal/audit_api.py); included by api_urls."""

from django.urls import path

from accounts.access import public

from .audit_api import (
    AuditConsistencyView,
    AuditInclusionView,
    AuditTreeHeadLatestView,
    AuditTreeHeadView,
)

urlpatterns = [
    path(
        "tree-heads/latest",
        public(AuditTreeHeadLatestView.as_view()),
        name="api-audit-tree-head-latest",
    ),
    path("tree-heads", public(AuditTreeHeadView.as_view()), name="api-audit-tree-head"),
    path("consistency", public(AuditConsistencyView.as_view()), name="api-audit-consistency"),
    path("inclusion", AuditInclusionView.as_view(), name="api-audit-inclusion"),
]
