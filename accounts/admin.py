"""The Django admin: a read-only view of accounts for vetting administrators.

Every change of an account (password, role, standing, second factors) goes through the
portal's own pages, which check who may make it and audit it; the admin changes nothing.
It is entered through the portal's login only, so the lockout and the audit of login
attempts apply (the admin's own login form checks passwords outside both).
"""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from .models import Role, User

# Registered by their apps, and not for the admin: a device's page shows its secret (a
# TOTP key and QR code, backup codes) and lets a code be added for someone else. Groups
# carry Django permissions, which the portal does not use (roles decide).
NOT_IN_ADMIN = [TOTPDevice, StaticDevice, WebAuthnCredential, Group]


class PortalAdminSite(OTPAdminSite):
    """django-otp's admin site, with login, logout and password changes left to the portal."""

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Never check a password here: send the admin on, and refuse anyone else.

        Only a user with a verified second factor reaches this view (the standing
        middleware sends everyone else to the portal's login first).
        """
        if not self.has_permission(request):
            raise PermissionDenied
        target = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("admin:index", current_app=self.name)
        return HttpResponseRedirect(target)

    def logout(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        from .views.auth import logout_view

        return logout_view(request)

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("password-change"))

    def password_change_done(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("password-change"))


def admin_may_inspect(user: Any) -> bool:
    """Whether ``user`` may look at accounts in the admin: an active staff vetting admin."""
    return bool(user.is_active and user.is_staff and user.role == Role.VETTING_ADMIN)


for model in NOT_IN_ADMIN:
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Accounts, to look at: no adding, changing, deleting or password resetting."""

    ordering = ["email"]
    list_display = ["email", "full_name", "role", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email"]}),
        ("Person", {"fields": ["full_name", "role"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    # Also read-only should a change permission ever be granted by mistake.
    readonly_fields = [
        "email",
        "full_name",
        "role",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    ]
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return admin_may_inspect(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin_may_inspect(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
