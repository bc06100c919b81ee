"""Facts about an HTTP request that several apps need."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """Return the caller's address, trusting exactly TRUSTED_PROXY_COUNT proxies.

    Behind one proxy the caller is the last entry of X-Forwarded-For; entries further
    left were written by the caller and prove nothing.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None
