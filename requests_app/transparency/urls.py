"""The public report's URLs, included by ``project.urls`` at ``/transparency/``."""

from django.urls import path, re_path

from requests_app.transparency import views

PERIOD = r"(?P<period_key>[0-9]{4}(?:-Q[1-4])?)"

urlpatterns = [
    path("", views.report_page, name="transparency"),
    path("schema.json", views.schema_json, name="transparency-schema"),
    re_path(rf"^{PERIOD}\.json$", views.download_json, name="transparency-json"),
    re_path(rf"^{PERIOD}\.csv$", views.download_csv, name="transparency-csv"),
    path("versions/<int:snapshot_id>.json", views.version_json, name="transparency-version-json"),
    path("versions/<int:snapshot_id>.csv", views.version_csv, name="transparency-version-csv"),
]
