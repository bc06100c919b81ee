"""An adapter for the platform's own internal lookup API (docs/platform-data-source.md).

POST {PLATFORM_API_URL}/lookup with the scope as JSON and a bearer token; the answer is
``{"targets": [{"type", "value", "found", "records": {category: ...}}]}``. Only the
standard library is used: no client library is needed for one JSON POST.
"""

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from .base import Scope, SourceUnavailable, Target, TargetRecords


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would follow one with the bearer token, to any host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class HttpSource:
    name = "http"

    def __init__(
        self, base_url: str | None = None, token: str | None = None, timeout: float = 20.0
    ) -> None:
        self.base_url = (base_url or settings.PLATFORM_API_URL).rstrip("/")
        self.token = token if token is not None else settings.PLATFORM_API_TOKEN
        self.timeout = timeout
        parts = urlsplit(self.base_url)
        loopback = parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if not (parts.scheme == "https" or loopback):
            raise ValueError("The platform API must be reached over https.")

    def lookup(self, scope: Scope) -> list[TargetRecords]:
        body = json.dumps(
            {
                "targets": [{"type": t.type, "value": t.value} for t in scope.targets],
                "categories": sorted(scope.categories),
                "period": {
                    "from": scope.period_from.isoformat(),
                    "to": scope.period_to.isoformat(),
                },
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310  (https enforced above)
            f"{self.base_url}/lookup",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                answer: Any = json.loads(response.read(16 * 1024 * 1024))
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise SourceUnavailable(f"The platform API did not answer: {exc}") from exc
        try:
            return [
                TargetRecords(
                    Target(str(item["type"]), str(item["value"])),
                    bool(item.get("found")),
                    _records(item.get("records")),
                )
                for item in answer["targets"]
            ]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SourceUnavailable(
                f"The platform API answered in an unexpected form: {exc!r}"
            ) from exc


def _records(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("records is not an object")
    return value
