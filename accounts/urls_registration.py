"""URLs of the registration pages."""

from django.urls import path

from .views import registration

urlpatterns = [
    path("register/", registration.register, name="register"),
    path("register/mailbox/", registration.mailbox_pending, name="register-mailbox"),
    path("register/verify/<str:token>/", registration.mailbox_verify, name="mailbox-verify"),
    path("register/verified/", registration.mailbox_verified, name="mailbox-verified"),
    path("register/discard/<str:token>/", registration.mailbox_discard, name="register-discard"),
    path("register/discarded/", registration.registration_discarded, name="register-discarded"),
]
