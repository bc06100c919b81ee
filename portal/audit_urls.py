"""The audit log's API under /api/v1/audit/ (portal/audit_api.py); included by project.api_urls."""

from django.urls import path

from .access import public
from .audit_api import (
    AuditConsistencyView,
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
]
