"""URLs of the web channel of intake, included under /requests/."""

from django.urls import path

from requests_app.intake.web import views

urlpatterns = [
    path("new/", views.submission_new, name="submission-new"),
    path("new/submit/", views.submission_submit, name="submission-submit"),
    path("new/<slug:kind>/", views.submission_form, name="submission-form"),
    path("new/<slug:kind>/preview/", views.submission_preview, name="submission-preview"),
]
