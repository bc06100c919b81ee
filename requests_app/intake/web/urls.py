"""URLs of the web channel of intake, included under /requests/."""

from django.urls import path

from requests_app.intake.web import views

urlpatterns = [
    path("new/", views.submission_new, name="submission-new"),
    path("new/submit/", views.submission_submit, name="submission-submit"),
    path("new/from/<str:reference>/", views.draft_copy, name="submission-copy"),
    path("new/<slug:kind>/", views.submission_form, name="submission-form"),
    path("new/<slug:kind>/check/", views.submission_check, name="submission-check"),
    path("new/<slug:kind>/draft/", views.draft_save_view, name="submission-draft-save"),
    path("drafts/<int:draft_id>/", views.draft_open, name="submission-draft"),
    path(
        "drafts/<int:draft_id>/delete/", views.draft_delete_confirm, name="submission-draft-delete"
    ),
    path(
        "drafts/<int:draft_id>/documents/<int:document_id>/",
        views.draft_document,
        name="submission-draft-document",
    ),
]
