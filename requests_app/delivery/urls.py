"""The officer's pages for sealed responses; ``project.urls`` includes them at ``/responses/``."""

from django.urls import path

from requests_app.delivery import views

urlpatterns = [
    path("", views.response_list, name="responses"),
    path("<int:response_id>/download/", views.response_download, name="response-download"),
    path("<int:response_id>/decrypt/", views.response_decrypt, name="response-decrypt"),
]
