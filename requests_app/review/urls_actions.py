"""URLs of the reviewers' decision tools, included under /review/ beside the queue's."""

from django.urls import path

from requests_app.review import views_actions as views

urlpatterns = [
    path("<str:reference>/claim/", views.claim, name="review-claim"),
    path("<str:reference>/assign/", views.assign, name="review-assign"),
    path("<str:reference>/assessment/", views.assess, name="review-assess"),
    path("<str:reference>/clarify/", views.clarify, name="review-clarify"),
    path("<str:reference>/callback/", views.callback, name="review-callback"),
    path("<str:reference>/propose/", views.propose, name="review-propose"),
    path("<str:reference>/decide/", views.decide, name="review-decide"),
    path("<str:reference>/reject/", views.reject, name="review-reject"),
    path("<str:reference>/resume/", views.resume, name="review-resume"),
    path("<str:reference>/close/", views.close, name="review-close"),
    path(
        "<str:reference>/decisions/<int:decision_id>/preview/",
        views.preview,
        name="review-preview",
    ),
    path(
        "<str:reference>/decisions/<int:decision_id>/confirm/",
        views.confirm,
        name="review-confirm",
    ),
    path(
        "<str:reference>/decisions/<int:decision_id>/send-back/",
        views.send_back,
        name="review-send-back",
    ),
    path(
        "<str:reference>/decisions/<int:decision_id>/disclose/",
        views.disclose,
        name="review-disclose",
    ),
]
