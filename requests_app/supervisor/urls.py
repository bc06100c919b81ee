"""The supervisor's pages about the agency's requests; ``project.urls`` includes them at
``/agency/requests/``."""

from django.urls import path

from requests_app.supervisor import views

urlpatterns = [
    path("", views.request_list, name="supervisor-requests"),
    path("export.csv", views.request_export, name="supervisor-requests-export"),
    path(
        "responses/<int:response_id>/download/",
        views.response_download,
        name="supervisor-response-download",
    ),
    path("<str:reference>/", views.request_detail, name="supervisor-request"),
    path("<str:reference>/messages/", views.request_reply, name="supervisor-request-reply"),
]
