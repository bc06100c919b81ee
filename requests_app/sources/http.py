"""An adapter for the platform's own internal lookup API (docs/platform-data-source.md).

POST {PLATFORM_API_URL}/lookup with the scope as JSON and a bearer token; the answer is
``{"targets": [{"type", "value", "found", "records": {category: ...}, "files": [...]}]}``.
A listed file's bytes come from GET {PLATFORM_API_URL}/files/{id}, only when a response
is sealed, read a chunk at a time. Only the standard library is used: no client library
is needed for one JSON POST and one streamed GET.
"""

import http.client
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings

from requests_app.sources.base import Scope, SourceUnavailable, Target, TargetFile, TargetRecords

CHUNK = 1024 * 1024
FILE_ID = re.compile(r"[A-Za-z0-9._~-]{1,200}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
MAX_FILE_NAME = 255


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
                "targets": [t.wire() for t in scope.targets],
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
                    Target(str(item["type"]), str(item["value"]), _window(item.get("window"))),
                    bool(item.get("found")),
                    _records(item.get("records")),
                    [self._file(listed) for listed in _list(item.get("files"))],
                )
                for item in answer["targets"]
            ]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise SourceUnavailable(
                f"The platform API answered in an unexpected form: {exc!r}"
            ) from exc

    def _file(self, listed: Any) -> TargetFile:
        """A listed file, checked field by field; its bytes are fetched only when opened."""
        if not isinstance(listed, dict):
            raise TypeError("a file is not an object")
        file_id, name, media_type = listed["id"], listed["name"], listed["media_type"]
        size, sha256, category, at = (
            listed["size"],
            listed["sha256"],
            listed["category"],
            listed.get("at"),
        )
        if not isinstance(file_id, str) or not FILE_ID.fullmatch(file_id) or file_id in {".", ".."}:
            raise ValueError("a file id must be 1 to 200 of A-Z a-z 0-9 . _ ~ -")
        if not (isinstance(name, str) and 0 < len(name) <= MAX_FILE_NAME):
            raise ValueError("a file name must be text of 1 to 255 characters")
        if not (isinstance(media_type, str) and MEDIA_TYPE.fullmatch(media_type.lower())):
            raise ValueError("a file's media_type must be type/subtype")
        if not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
            raise ValueError("a file's size must be a whole number of bytes")
        if not (isinstance(sha256, str) and SHA256_HEX.fullmatch(sha256)):
            raise ValueError("a file's sha256 must be 64 lowercase hex digits")
        if not isinstance(category, str) or not (at is None or isinstance(at, str)):
            raise TypeError("a file's category must be text, and its at a time or null")
        return TargetFile(
            name=name,
            media_type=media_type.lower(),
            size=size,
            sha256=sha256,
            category=category,
            at=at,
            opener=lambda: self._file_chunks(file_id, size),
        )

    def _file_chunks(self, file_id: str, size: int) -> Iterator[bytes]:
        """The bytes of one file, a chunk at a time, never the whole file in memory."""
        request = urllib.request.Request(  # noqa: S310  (https enforced above)
            f"{self.base_url}/files/{quote(file_id, safe='')}",
            method="GET",
            headers={"Accept": "application/octet-stream", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                if response.status != 200:
                    raise SourceUnavailable(
                        f"The platform API answered {response.status} for file {file_id}."
                    )
                length = response.headers.get("Content-Length")
                if length is not None and length.strip() != str(size):
                    raise SourceUnavailable(
                        f"The platform API sent {length} bytes for file {file_id}, "
                        f"listed with {size}."
                    )
                while chunk := response.read(CHUNK):
                    yield chunk
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            raise SourceUnavailable(f"The platform API did not send file {file_id}: {exc}") from exc


def _window(value: Any) -> tuple[datetime, datetime] | None:
    """An answered target's window, as the portal sent it (how answers pair with targets)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("a target's window is not an object")
    start, end = value["from"], value["to"]
    if not isinstance(start, str) or not isinstance(end, str):
        raise TypeError("a window's from and to are RFC 3339 times")
    return (
        datetime.fromisoformat(start.replace("Z", "+00:00")),
        datetime.fromisoformat(end.replace("Z", "+00:00")),
    )


def _records(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("records is not an object")
    return value


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError("files is not a list")
    return value
