"""Rate limits on submissions, per token, per officer and per address (429 + Retry-After).

Counts live in Django's cache: Redis in production, so every worker shares them.
"""

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from portal.http import client_ip


class _SubmissionThrottle(SimpleRateThrottle):
    scope: str

    def get_rate(self) -> str:
        return settings.INTAKE_RATE_LIMITS[self.scope]

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class SubmissionTokenThrottle(_SubmissionThrottle):
    scope = "submission_token"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        token = getattr(request, "auth", None)
        pk = getattr(token, "pk", None)
        return None if pk is None else self.cache_format % {"scope": self.scope, "ident": pk}


class SubmissionOfficerThrottle(_SubmissionThrottle):
    scope = "submission_officer"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class SubmissionAddressThrottle(_SubmissionThrottle):
    scope = "submission_address"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request) or "unknown"}
