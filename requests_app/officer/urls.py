"""The officer's pages about their requests; ``project.urls`` includes them at
``/requests/mine/``.
"""

from django.urls import path

from requests_app.officer import views

urlpatterns = [
    path("", views.request_list, name="officer-requests"),
    path("<str:reference>/", views.request_detail, name="officer-request"),
    path("<str:reference>/messages/", views.request_reply, name="officer-request-reply"),
    path("<str:reference>/receipt.pdf", views.request_receipt, name="officer-request-receipt"),
    path(
        "<str:reference>/messages/preview/",
        views.request_reply_preview,
        name="officer-request-reply-preview",
    ),
    path(
        "<str:reference>/messages/signed/",
        views.request_reply_signed,
        name="officer-request-reply-signed",
    ),
    path(
        "<str:reference>/withdraw/", views.request_withdraw_confirm, name="officer-request-withdraw"
    ),
    path(
        "<str:reference>/preservation/extend/",
        views.preservation_extend_confirm,
        name="officer-preservation-extend",
    ),
    path("<str:reference>/shares/", views.share_add, name="officer-request-share"),
    path(
        "<str:reference>/shares/<int:share_id>/revoke/",
        views.share_revoke,
        name="officer-request-unshare",
    ),
]
