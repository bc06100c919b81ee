"""Template context shared by every page: the navigation for the user's role."""

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.middleware import is_onboarding_officer

# (label, url name) per role; each later feature adds its pages here.
NAVIGATION: dict[str, list[tuple[str | Promise, str]]] = {
    "public": [
        (_("Home"), "home"),
        (_("Register"), "register"),
        (_("API documentation"), "api-docs"),
        (_("Transparency"), "transparency"),
    ],
    "officer": [
        (_("Home"), "home"),
        (_("My requests"), "officer-requests"),
        (_("New request"), "submission-new"),
        (_("Responses"), "responses"),
        (_("Keys"), "keys"),
        (_("API tokens"), "api-tokens"),
        (_("Second factors"), "factors"),
        (_("API documentation"), "api-docs"),
    ],
    "supervisor": [
        (_("Home"), "home"),
        (_("Agency requests"), "supervisor-requests"),
        (_("Officers"), "supervisor-officers"),
        (_("Keys and tokens"), "supervisor-keys"),
        (_("Second factors"), "factors"),
    ],
    "reviewer": [
        (_("Home"), "home"),
        (_("Review queue"), "review-queue"),
        (_("User notices"), "user-notices"),
        (_("Transparency"), "staff-transparency"),
        (_("Second factors"), "factors"),
    ],
    "vetting_admin": [
        (_("Home"), "home"),
        (_("Vetting"), "vetting-queue"),
        (_("Intake rejections"), "staff-rejections"),
        (_("Jurisdiction policy"), "staff-policy"),
        (_("On call"), "staff-on-call"),
        (_("Transparency"), "staff-transparency"),
        (_("Second factors"), "factors"),
        (_("Administration"), "admin:index"),
    ],
}
# An officer waiting for vetting sees only their own status and factors.
ONBOARDING_NAVIGATION = [(_("Your account"), "officer-status"), (_("Second factors"), "factors")]
# A session past the password alone sees nothing of its role until the second factor.
SECOND_FACTOR_NAVIGATION = [(_("Continue logging in"), "login-verify")]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user.role if user is not None and user.is_authenticated else "public"
    items: Sequence[tuple[str | Promise, str]] = NAVIGATION.get(role, NAVIGATION["public"])
    if role in ("officer", "supervisor") and is_onboarding_officer(user):
        items = ONBOARDING_NAVIGATION
    # django-otp's middleware gives the user is_verified; without it, nothing is verified.
    if role != "public" and not getattr(user, "is_verified", lambda: False)():
        items = SECOND_FACTOR_NAVIGATION
    current = request.path
    links = []
    for label, name in items:
        url = reverse(name)
        links.append({"label": label, "url": url, "current": url == current})
    return {"nav_links": links}
