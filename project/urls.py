"""The root URLconf: every layer's pages under their prefixes."""

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from accounts.admin import PortalAdminSite
from portal import views
from portal.access import public
from project import views as project_views
from project.views import set_language

# The admin site needs a verified second factor too (the standing middleware also checks),
# and is entered through the portal's own login (accounts/admin.py).
admin.site.__class__ = PortalAdminSite

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

urlpatterns = [
    # The API first: every submission resolves its address, and no page's address starts
    # with api/, so the pages' forty-odd patterns need not be tried before it.
    path("api/v1/", include("project.api_urls")),
    path("", project_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/setlang/", set_language, name="set_language"),
    # The browser bundles' texts (domain djangojs) in the page's language, from the portal's
    # own origin: a plain script that base.html loads before any bundle (frontend/i18n.js).
    # The address carries the language (?language=), so a cached copy is never another's.
    path(
        "i18n/catalog.js",
        public(cache_control(max_age=3600)(JavaScriptCatalog.as_view(domain="djangojs"))),
        name="javascript-catalog",
    ),
    path("", include("accounts.urls")),
    path("staff/transparency/", include("requests_app.transparency.urls_staff")),
    path("staff/", include("requests_app.intake.staff_urls")),
    path("staff/", include("requests_app.policy.urls")),
    path("staff/", include("requests_app.review.urls_on_call")),
    path("transparency/", include("requests_app.transparency.urls")),
    path("review/notices/", include("requests_app.review.urls_notices")),
    path("review/", include("requests_app.review.urls")),
    path("review/", include("requests_app.review.urls_actions")),
    path("requests/", include("requests_app.intake.web.urls")),
    path("requests/mine/", include("requests_app.officer.urls")),
    path("responses/", include("requests_app.delivery.urls")),
    path("agency/requests/", include("requests_app.supervisor.urls")),
    path("admin/", admin.site.urls),
]
