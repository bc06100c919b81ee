"""The portal's URLs, plus the benchmark's bare endpoints under ``/api/bench/``."""

from django.urls import path

from project import urls as portal_urls

from .bare import BareInsertView, BareRowView

handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500

urlpatterns = [
    path("api/bench/bare", BareInsertView.as_view()),
    path("api/bench/bare-row", BareRowView.as_view()),
    *portal_urls.urlpatterns,
]
