"""Platform data sources: the directory, the HTTP adapter, and the scope limit they all pass.

The HTTP adapter is tried against a real ``http.server`` on 127.0.0.1 in a thread: no
network beyond the loopback, no mock of urllib.
"""

import hashlib
import io
import json
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyrage
import pytest
from django.test import override_settings

from requests_app.delivery.sealing import response_seal
from requests_app.demo_source.directory import DirectorySource, platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.lifecycle.scope import configured_source
from requests_app.review.disclosure import disclosure_preview
from requests_app.sources.base import (
    Scope,
    SourceUnavailable,
    Target,
    TargetFile,
    TargetRecords,
    records_within_scope,
)
from requests_app.sources.http import HttpSource
from tests.requests_app.delivery_helpers import approved_disclosure, tmp_storage

ALL_CATEGORIES = frozenset(
    {
        "subscriber_info",
        "phone_number",
        "email_address",
        "ip_addresses",
        "login_history",
        "device_info",
    }
)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def scope(*targets: Target, categories=ALL_CATEGORIES, period=("2026-01-01", "2026-01-31")):
    return Scope(
        targets=targets,
        categories=frozenset(categories),
        period_from=date.fromisoformat(period[0]),
        period_to=date.fromisoformat(period[1]),
    )


@pytest.fixture
def account(db) -> PlatformAccount:
    account = PlatformAccount.objects.create(
        user_id="900001",
        username="NightOwl",
        display_name="Night Owl",
        email="owl@mail.example",
        phone_number="+4915100000001",
        registered_at=at("2024-05-01"),
        channels=["owl_news", "owl_chat"],
    )
    for day, kind, ip, device in [
        ("2025-12-31", "login", "198.51.100.1", "Android 15"),  # the day before the period
        ("2026-01-01", "registration", "198.51.100.2", ""),  # first day, from 00:00
        ("2026-01-15", "login", "198.51.100.3", "iOS 19"),
        ("2026-01-31", "session", "198.51.100.4", "iOS 19"),  # last day, until 23:59
        ("2026-02-01", "login", "198.51.100.5", "Android 15"),  # the day after
    ]:
        hour = 0 if day == "2026-01-01" else 23 if day == "2026-01-31" else 12
        PlatformIpEvent.objects.create(
            account=account, kind=kind, ip=ip, port=443, at=at(day, hour), device=device
        )
    PlatformAccount.objects.create(
        user_id="900002",
        username="bystander",
        phone_number="+4915100000002",
        registered_at=at("2024-01-01"),
        channels=["other_channel"],
    )
    return account


# --- The directory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        Target("username", "nightowl"),
        Target("username", "@NightOwl"),
        Target("user_id", "900001"),
        Target("phone", "+49 151 00000001"),
        Target("channel", "@owl_chat"),
    ],
    ids=lambda t: f"{t.type}={t.value}",
)
def test_the_directory_finds_an_account_by_each_kind_of_target(account, target):
    (answer,) = DirectorySource().lookup(scope(target, categories={"subscriber_info"}))
    assert answer.target == target
    assert answer.found is True
    assert answer.records == {
        "subscriber_info": {
            "user_id": "900001",
            "username": "NightOwl",
            "display_name": "Night Owl",
            "registered_at": "2024-05-01T12:00:00Z",
        }
    }


@pytest.mark.parametrize(
    "target",
    [
        Target("username", "nobody"),
        Target("user_id", "NightOwl"),
        Target("phone", "+4915100000009"),
        Target("channel", "owl"),
        Target("email", "nobody@mail.example"),
    ],
    ids=lambda t: f"{t.type}={t.value}",
)
def test_the_directory_answers_not_found_without_records(account, target):
    (answer,) = DirectorySource().lookup(scope(target))
    assert (answer.found, answer.records) == (False, {})


def test_the_directory_returns_only_the_asked_categories(account):
    (answer,) = DirectorySource().lookup(
        scope(Target("username", "nightowl"), categories={"phone_number", "login_history"})
    )
    assert set(answer.records) == {"phone_number", "login_history"}
    assert answer.records["phone_number"] == {"phone_number": "+4915100000001"}


def test_the_directory_returns_only_events_within_the_period_both_ends_included(account):
    (answer,) = DirectorySource().lookup(scope(Target("user_id", "900001")))
    assert [e["ip"] for e in answer.records["ip_addresses"]] == [
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ]
    assert answer.records["ip_addresses"][0] == {
        "ip": "198.51.100.2",
        "port": 443,
        "at": "2026-01-01T00:00:00Z",
        "kind": "registration",
    }
    assert [e["ip"] for e in answer.records["login_history"]] == ["198.51.100.3"]
    assert [e["device"] for e in answer.records["device_info"]] == ["iOS 19", "iOS 19"]


def test_the_directory_answers_each_target_separately(account):
    answers = DirectorySource().lookup(
        scope(
            Target("username", "nightowl"),
            Target("username", "bystander"),
            Target("username", "ghost"),
            categories={"phone_number"},
        )
    )
    assert [(a.target.value, a.found, a.records) for a in answers] == [
        ("nightowl", True, {"phone_number": {"phone_number": "+4915100000001"}}),
        ("bystander", True, {"phone_number": {"phone_number": "+4915100000002"}}),
        ("ghost", False, {}),
    ]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_all(file: TargetFile) -> bytes:
    return b"".join(file.opener())


def test_the_directory_lists_the_files_of_asked_categories_in_the_period_and_streams_them(
    account, settings, tmp_path
):
    tmp_storage(settings, tmp_path)
    photo = b"\x89PNG a profile photo"
    january = b"at,ip\n2026-01-15T12:00:00Z,198.51.100.3\n"
    for name, category, data, moment in [
        ("profile.png", "subscriber_info", photo, None),
        ("log-2026-01-15.csv", "ip_addresses", january, at("2026-01-15")),
        ("log-2025-12-31.csv", "ip_addresses", b"before", at("2025-12-31")),  # before the period
        ("devices.csv", "device_info", b"a category not asked", at("2026-01-15")),
    ]:
        platform_file_store(
            account=account,
            name=name,
            media_type="text/csv" if name.endswith(".csv") else "image/png",
            category=category,
            data=data,
            at=moment,
        )

    (answer,) = DirectorySource().lookup(
        scope(Target("username", "nightowl"), categories={"subscriber_info", "ip_addresses"})
    )

    assert [(f.name, f.category, f.at) for f in answer.files] == [
        ("profile.png", "subscriber_info", None),
        ("log-2026-01-15.csv", "ip_addresses", "2026-01-15T12:00:00Z"),
    ]
    for file, data in zip(answer.files, [photo, january], strict=True):
        assert (file.size, file.sha256) == (len(data), sha256(data))
        assert read_all(file) == data


def test_the_directory_gives_no_files_for_a_target_it_does_not_find(account, settings, tmp_path):
    tmp_storage(settings, tmp_path)
    platform_file_store(
        account=account,
        name="profile.png",
        media_type="image/png",
        category="subscriber_info",
        data=b"photo",
    )
    (answer,) = DirectorySource().lookup(scope(Target("username", "ghost")))
    assert (answer.found, answer.files) == (False, [])


# --- The scope limit ---------------------------------------------------------------------------


class TalkativeSource:
    """A misbehaving adapter: it answers more targets, categories and times than asked."""

    name = "talkative"

    def lookup(self, scope: Scope) -> list[TargetRecords]:
        events = [
            {"at": "2025-12-31T23:59:59Z", "ip": "192.0.2.1"},
            {"at": "2026-01-10T10:00:00Z", "ip": "192.0.2.2"},
            {"at": "2026-01-31T23:59:59+00:00", "ip": "192.0.2.3"},
            {"at": "2026-02-01T00:00:00Z", "ip": "192.0.2.4"},
            {"ip": "192.0.2.5"},  # no time: cannot be shown to be within the period
            "192.0.2.6",  # not even a record
        ]
        asked = [
            TargetRecords(
                target,
                True,
                {
                    "ip_addresses": events,
                    "phone_number": {"phone_number": "+1555"},
                    "private_messages": [{"at": "2026-01-10T10:00:00Z", "text": "hello"}],
                },
            )
            for target in scope.targets
        ]
        stranger = TargetRecords(
            Target("username", "stranger"), True, {"ip_addresses": events[1:2]}
        )
        return [*asked, stranger]


def test_records_within_scope_drops_what_a_misbehaving_source_adds():
    limit = scope(Target("username", "suspect"), categories={"ip_addresses"})

    kept = records_within_scope(limit, TalkativeSource().lookup(limit))

    assert kept == [
        TargetRecords(
            Target("username", "suspect"),
            True,
            {
                "ip_addresses": [
                    {"at": "2026-01-10T10:00:00Z", "ip": "192.0.2.2"},
                    {"at": "2026-01-31T23:59:59+00:00", "ip": "192.0.2.3"},
                ]
            },
        )
    ]


def listed_file(name: str, category: str, moment: Any) -> TargetFile:
    return TargetFile(
        name=name,
        media_type="application/octet-stream",
        size=1,
        sha256=sha256(b"x"),
        category=category,
        at=moment,
        opener=lambda: iter([b"x"]),
    )


def test_records_within_scope_drops_every_file_outside_the_scope():
    limit = scope(Target("username", "suspect"), categories={"ip_addresses", "subscriber_info"})
    offered = [
        listed_file("in-period.csv", "ip_addresses", "2026-01-10T10:00:00Z"),
        listed_file("last-day.csv", "ip_addresses", "2026-01-31T23:59:59Z"),
        listed_file("static-photo.png", "subscriber_info", None),
        listed_file("day-before.csv", "ip_addresses", "2025-12-31T23:59:59Z"),
        listed_file("day-after-in-utc.csv", "ip_addresses", "2026-01-31T23:30:00-05:00"),
        listed_file("no-time-in-an-event-category.csv", "ip_addresses", None),
        listed_file("not-a-time.csv", "ip_addresses", "last tuesday"),
        listed_file("messages.zip", "private_messages", "2026-01-10T10:00:00Z"),
        listed_file("phone-bill.pdf", "phone_number", None),  # a category not approved
    ]
    answers = [
        TargetRecords(Target("username", "suspect"), True, {}, offered),
        TargetRecords(Target("username", "stranger"), True, {}, offered[:1]),
    ]

    (kept,) = records_within_scope(limit, answers)

    assert kept.target == Target("username", "suspect")
    assert [f.name for f in kept.files] == ["in-period.csv", "last-day.csv", "static-photo.png"]


def test_a_target_of_the_same_value_but_another_type_is_not_the_approved_target():
    limit = scope(Target("user_id", "42"), categories={"phone_number"})
    answers = [
        TargetRecords(Target("phone", "42"), True, {"phone_number": {"phone_number": "+1"}}),
        TargetRecords(Target("user_id", "42"), False, {}),
    ]
    assert records_within_scope(limit, answers) == [TargetRecords(Target("user_id", "42"), False)]


def test_a_preview_built_from_a_scope_goes_through_the_limit_too():
    limit = scope(Target("username", "suspect"), categories={"phone_number"})
    (answer,) = disclosure_preview(scope=limit, source=TalkativeSource())
    assert answer.records == {"phone_number": {"phone_number": "+1555"}}


def test_a_preview_needs_exactly_one_of_a_decision_or_a_scope():
    with pytest.raises(TypeError):
        disclosure_preview()


@pytest.mark.parametrize(("name", "kind"), [("directory", DirectorySource), ("http", HttpSource)])
def test_the_configured_source_is_the_one_the_settings_name(name, kind):
    with override_settings(
        PLATFORM_DATA_SOURCE=name,
        PLATFORM_API_URL="https://lookup.platform.example",
        PLATFORM_API_TOKEN="t0ken",
    ):
        assert isinstance(configured_source(), kind)


# --- The HTTP adapter against a local server ---------------------------------------------------


class PlatformApi:
    """A stand-in for the platform's lookup API: records what it was sent, answers a script."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answer: Any = {"targets": []}
        self.status = 200
        self.delay = 0.0
        self.raw: bytes | None = None
        self.redirect_to: str | None = None
        # file id -> (a block of bytes, how many times it is sent), for GET /v1/files/{id}
        self.files: dict[str, tuple[bytes, int]] = {}
        self.file_length: str | None = None  # a Content-Length to send instead of the true one

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                length = int(self.headers.get("Content-Length", "0"))
                api.received.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                time.sleep(api.delay)
                if api.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", api.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = api.raw if api.raw is not None else json.dumps(api.answer).encode()
                try:
                    self.send_response(api.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

            def do_GET(self) -> None:  # noqa: N802  (a file, or a followed redirect)
                api.received.append(
                    {"path": self.path, "authorization": self.headers.get("Authorization")}
                )
                served = api.files.get(self.path.removeprefix("/v1/files/"))
                if api.redirect_to and served:
                    self.send_response(302)
                    self.send_header("Location", api.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not self.path.startswith("/v1/files/") or served is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                block, times = served
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", api.file_length or str(len(block) * times))
                self.end_headers()
                try:
                    for _ in range(times):
                        self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@contextmanager
def serving(api: PlatformApi) -> Iterator[str]:
    """Run ``api`` on a free port of 127.0.0.1 in a thread; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def platform_api() -> Iterator[tuple[PlatformApi, str]]:
    api = PlatformApi()
    with serving(api) as url:
        yield api, url


def test_the_http_source_posts_the_scope_with_its_token_and_reads_the_answer(platform_api):
    api, url = platform_api
    api.answer = {
        "targets": [
            {
                "type": "username",
                "value": "nightowl",
                "found": True,
                "records": {"ip_addresses": [{"ip": "198.51.100.3", "at": "2026-01-15T12:00:00Z"}]},
            },
            {"type": "phone", "value": "+4915100000009", "found": False},
        ]
    }
    limit = scope(
        Target("username", "nightowl"),
        Target("phone", "+4915100000009"),
        categories={"ip_addresses", "phone_number"},
    )

    answers = HttpSource(base_url=url, token="s3cret").lookup(limit)

    (sent,) = api.received
    assert sent["path"] == "/v1/lookup"
    assert sent["authorization"] == "Bearer s3cret"
    assert sent["content_type"] == "application/json"
    assert sent["body"] == {
        "targets": [
            {"type": "username", "value": "nightowl"},
            {"type": "phone", "value": "+4915100000009"},
        ],
        "categories": ["ip_addresses", "phone_number"],
        "period": {"from": "2026-01-01", "to": "2026-01-31"},
    }
    assert answers == [
        TargetRecords(
            Target("username", "nightowl"),
            True,
            {"ip_addresses": [{"ip": "198.51.100.3", "at": "2026-01-15T12:00:00Z"}]},
        ),
        TargetRecords(Target("phone", "+4915100000009"), False, {}),
    ]


def test_what_the_http_source_adds_beyond_the_scope_is_cut(platform_api):
    api, url = platform_api
    api.answer = {
        "targets": [
            {
                "type": "username",
                "value": "nightowl",
                "found": True,
                "records": {
                    "ip_addresses": [
                        {"ip": "198.51.100.3", "at": "2026-01-15T12:00:00Z"},
                        {"ip": "198.51.100.5", "at": "2026-02-01T12:00:00Z"},
                    ],
                    "email_address": {"email": "owl@mail.example"},
                },
            },
            {"type": "username", "value": "bystander", "found": True, "records": {}},
        ]
    }
    limit = scope(Target("username", "nightowl"), categories={"ip_addresses"})

    (answer,) = disclosure_preview(scope=limit, source=HttpSource(base_url=url, token="t"))

    assert answer.records == {
        "ip_addresses": [{"ip": "198.51.100.3", "at": "2026-01-15T12:00:00Z"}]
    }


def test_a_slow_platform_api_is_unavailable_after_the_timeout(platform_api):
    api, url = platform_api
    api.delay = 2.0
    started = time.monotonic()
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=url, token="t", timeout=0.3).lookup(scope(Target("user_id", "1")))
    assert time.monotonic() - started < 1.5


def test_a_platform_api_that_is_down_is_unavailable():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port any more
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=f"http://127.0.0.1:{port}", token="t", timeout=2).lookup(
            scope(Target("user_id", "1"))
        )


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (500, b'{"error": "boom"}'),
        (401, b'{"error": "bad token"}'),
        (200, b"<html>a proxy's error page</html>"),
    ],
    ids=["server-error", "unauthorised", "not-json"],
)
def test_an_error_answer_of_the_platform_api_is_unavailable(platform_api, status, raw):
    api, url = platform_api
    api.status, api.raw = status, raw
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=url, token="t").lookup(scope(Target("user_id", "1")))


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"targets": [{"value": "1", "found": True}]},
        {"targets": ["user_id:1"]},
        {"targets": [{"type": "user_id", "value": "1", "found": True, "records": ["x"]}]},
    ],
    ids=["a-list", "target-without-type", "target-not-an-object", "records-not-an-object"],
)
def test_a_malformed_answer_of_the_platform_api_is_unavailable(platform_api, answer):
    api, url = platform_api
    api.answer = answer
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=url, token="t").lookup(scope(Target("user_id", "1")))


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(platform_api):
    api, url = platform_api
    elsewhere = PlatformApi()
    with serving(elsewhere) as elsewhere_url:
        api.redirect_to = f"{elsewhere_url}/lookup"
        with pytest.raises(SourceUnavailable):
            HttpSource(base_url=url, token="s3cret").lookup(scope(Target("user_id", "1")))
    assert len(api.received) == 1
    assert elsewhere.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://lookup.platform.example",
        "http://127.0.0.1.attacker.example",
        "http://localhost.attacker.example:8080",
        "ftp://lookup.platform.example",
    ],
)
def test_the_http_source_refuses_plain_http_beyond_the_loopback(url):
    with pytest.raises(ValueError, match="https"):
        HttpSource(base_url=url, token="t")


# --- Files through the HTTP adapter -------------------------------------------------------------

PHOTO = b"\x89PNG\r\n\x1a\n a profile photo"


def file_listing(**overrides: Any) -> dict[str, Any]:
    listing = {
        "id": "f-100001.photo",
        "name": "profile.png",
        "media_type": "image/png",
        "size": len(PHOTO),
        "sha256": sha256(PHOTO),
        "category": "subscriber_info",
        "at": None,
    }
    listing.update(overrides)
    return listing


def answer_with_files(*files: Any) -> dict[str, Any]:
    return {
        "targets": [
            {"type": "username", "value": "nightowl", "found": True, "records": {}, "files": files}
        ]
    }


SUBSCRIBER_SCOPE = scope(Target("username", "nightowl"), categories={"subscriber_info"})


def test_the_http_source_lists_files_and_streams_each_from_the_file_endpoint(platform_api):
    api, url = platform_api
    api.answer = answer_with_files(file_listing())
    api.files["f-100001.photo"] = (PHOTO, 1)

    (answer,) = HttpSource(base_url=url, token="s3cret").lookup(SUBSCRIBER_SCOPE)

    (file,) = answer.files
    assert (file.name, file.media_type, file.size, file.sha256, file.category, file.at) == (
        "profile.png",
        "image/png",
        len(PHOTO),
        sha256(PHOTO),
        "subscriber_info",
        None,
    )
    assert [r["path"] for r in api.received] == ["/v1/lookup"]  # nothing fetched until opened
    assert read_all(file) == PHOTO
    fetched = api.received[-1]
    assert fetched == {"path": "/v1/files/f-100001.photo", "authorization": "Bearer s3cret"}


def test_the_http_source_streams_a_large_file_without_holding_it(platform_api):
    api, url = platform_api
    block, times = bytes(range(256)) * 4096, 48  # 1 MiB, 48 times
    expected = hashlib.sha256()
    for _ in range(times):
        expected.update(block)
    api.answer = answer_with_files(
        file_listing(size=len(block) * times, sha256=expected.hexdigest(), name="video.mp4")
    )
    api.files["f-100001.photo"] = (block, times)
    (answer,) = HttpSource(base_url=url, token="t").lookup(SUBSCRIBER_SCOPE)

    digest, size = hashlib.sha256(), 0
    tracemalloc.start()
    try:
        for chunk in answer.files[0].opener():
            digest.update(chunk)
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (size, digest.hexdigest()) == (len(block) * times, expected.hexdigest())
    assert peak < 8 * len(block)  # a few chunks at most, never the 48 MiB


@pytest.mark.parametrize(
    "listing",
    [
        file_listing(id="../lookup"),
        file_listing(id=".."),
        file_listing(id="a/b"),
        file_listing(id=""),
        file_listing(name=""),
        file_listing(name="x" * 256),
        file_listing(media_type="image"),
        file_listing(media_type="text/html; charset=utf-8"),
        file_listing(size=-1),
        file_listing(size=True),
        file_listing(size="12"),
        file_listing(sha256=sha256(PHOTO).upper()),
        file_listing(sha256="0" * 63),
        file_listing(at=20260115),
        {"name": "profile.png"},
        "profile.png",
    ],
    ids=[
        "id-with-a-path",
        "id-dot-dot",
        "id-with-a-slash",
        "id-empty",
        "name-empty",
        "name-too-long",
        "media-type-without-subtype",
        "media-type-with-parameters",
        "size-negative",
        "size-a-boolean",
        "size-text",
        "sha256-uppercase",
        "sha256-short",
        "at-a-number",
        "fields-missing",
        "not-an-object",
    ],
)
def test_a_file_listing_of_another_shape_is_unavailable(platform_api, listing):
    api, url = platform_api
    api.answer = answer_with_files(listing)
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=url, token="t").lookup(SUBSCRIBER_SCOPE)


def test_files_that_are_not_a_list_are_unavailable(platform_api):
    api, url = platform_api
    api.answer = {"targets": [{"type": "username", "value": "nightowl", "files": {"a": 1}}]}
    with pytest.raises(SourceUnavailable):
        HttpSource(base_url=url, token="t").lookup(SUBSCRIBER_SCOPE)


def test_a_file_the_platform_api_does_not_send_is_unavailable_when_opened(platform_api):
    api, url = platform_api
    api.answer = answer_with_files(file_listing())  # listed, but GET answers 404
    (answer,) = HttpSource(base_url=url, token="t").lookup(SUBSCRIBER_SCOPE)
    with pytest.raises(SourceUnavailable):
        read_all(answer.files[0])


def test_a_file_sent_with_another_length_than_listed_is_unavailable(platform_api):
    api, url = platform_api
    api.answer = answer_with_files(file_listing())
    api.files["f-100001.photo"] = (PHOTO, 1)
    api.file_length = str(len(PHOTO) + 1)
    (answer,) = HttpSource(base_url=url, token="t").lookup(SUBSCRIBER_SCOPE)
    with pytest.raises(SourceUnavailable, match="listed with"):
        read_all(answer.files[0])


def test_a_redirect_for_a_file_is_not_followed_so_the_token_goes_nowhere_else(platform_api):
    api, url = platform_api
    elsewhere = PlatformApi()
    elsewhere.files["f-100001.photo"] = (PHOTO, 1)
    with serving(elsewhere) as elsewhere_url:
        api.answer = answer_with_files(file_listing())
        (answer,) = HttpSource(base_url=url, token="s3cret").lookup(SUBSCRIBER_SCOPE)
        api.files["f-100001.photo"] = (PHOTO, 1)
        api.redirect_to = f"{elsewhere_url}/files/f-100001.photo"
        with pytest.raises(SourceUnavailable):
            read_all(answer.files[0])
    assert elsewhere.received == []


def test_a_response_sealed_from_the_http_source_streams_its_files_into_the_archive(
    platform_api, client, settings, tmp_path
):
    api, url = platform_api
    tmp_storage(settings, tmp_path)
    settings.PLATFORM_DATA_SOURCE = "http"
    settings.PLATFORM_API_URL = url
    settings.PLATFORM_API_TOKEN = "s3cret"
    delivery = approved_disclosure(client)  # ip_addresses and phone_number, Q1 2026
    block, times = b"\x00\x01frame" * 100_000, 5
    video = block * times
    api.answer = {
        "targets": [
            {
                "type": "username",
                "value": "suspect_one",
                "found": True,
                "records": {"phone_number": {"phone_number": "+4915100000042"}},
                "files": [
                    file_listing(
                        id="v-1",
                        name="../../cctv/lobby.mp4",
                        media_type="video/mp4",
                        size=len(video),
                        sha256=sha256(video),
                        category="ip_addresses",
                        at="2026-02-01T10:00:00Z",
                    ),
                    file_listing(id="v-2", category="ip_addresses", at="2026-06-01T10:00:00Z"),
                ],
            }
        ]
    }
    api.files["v-1"] = (block, times)
    api.files["v-2"] = (PHOTO, 1)

    sealed = response_seal(disclosure_id=delivery.disclosure.pk)

    with sealed.file.open("rb") as ciphertext:
        plaintext = pyrage.decrypt(ciphertext.read(), [delivery.identity])
    archive = zipfile.ZipFile(io.BytesIO(plaintext))
    path = "files/1-username-suspect_one/lobby.mp4"
    assert archive.namelist() == ["response.json", "response.json.sig", path]
    assert archive.read(path) == video
    (target,) = json.loads(archive.read("response.json"))["records"]
    assert [(f["name"], f["sha256"]) for f in target["files"]] == [(path, sha256(video))]
    # Only the file within the period was fetched, with the token.
    fetched = [r for r in api.received if r["path"].startswith("/v1/files/")]
    assert fetched == [{"path": "/v1/files/v-1", "authorization": "Bearer s3cret"}]
