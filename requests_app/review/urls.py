"""URLs of the review queue and the request page, included under /review/.

The decision tools have their own module (``urls_actions``), included beside this one.
"""

from django.urls import path

from requests_app.review import views_queue as views

urlpatterns = [
    path("", views.queue, name="review-queue"),
    path("<str:reference>/", views.request_page, name="review-request"),
    path(
        "<str:reference>/documents/<int:attachment_id>/",
        views.document_download,
        name="review-document",
    ),
    path(
        "<str:reference>/documents/<int:attachment_id>/view/",
        views.document_view,
        name="review-document-view",
    ),
    path(
        "<str:reference>/messages/<int:message_id>/documents/<int:document_id>/",
        views.message_document_download,
        name="review-message-document",
    ),
]
