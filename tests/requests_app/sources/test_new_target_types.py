"""The data sources answer for the new target types, so the reviewers' preview still works.

The demonstration directory matches an email address (regardless of case), an IP address
by the account that used it within the target's window (of several, the latest user), and
a platform URL by the profile (``/u/<username>``) or channel (``/c/<name>``) it names on
one of ``PLATFORM_URL_HOSTS``. The HTTP adapter sends an IP address's window and pairs the
answer by it.
"""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from requests_app.demo_source.directory import DirectorySource
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.sources.base import Scope, Target, records_within_scope
from requests_app.sources.http import HttpSource

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def scope(*targets: Target) -> Scope:
    return Scope(
        targets=targets,
        categories=frozenset({"subscriber_info", "ip_addresses"}),
        period_from=date(2026, 1, 1),
        period_to=date(2026, 1, 31),
    )


@pytest.fixture
def accounts() -> dict[str, PlatformAccount]:
    owl = PlatformAccount.objects.create(
        user_id="900001",
        username="NightOwl",
        email="Owl@Mail.example",
        registered_at=at("2024-05-01T00:00:00"),
        channels=["owl_news"],
    )
    lark = PlatformAccount.objects.create(
        user_id="900002", username="lark", registered_at=at("2024-05-01T00:00:00")
    )
    # One address behind a NAT: the owl at 08:10, the lark at 09:50 on 15 January.
    PlatformIpEvent.objects.create(
        account=owl, kind="login", ip="203.0.113.7", at=at("2026-01-15T08:10:00")
    )
    PlatformIpEvent.objects.create(
        account=lark, kind="login", ip="203.0.113.7", at=at("2026-01-15T09:50:00")
    )
    PlatformIpEvent.objects.create(
        account=owl, kind="session", ip="2001:db8::7", at=at("2026-01-20T12:00:00")
    )
    return {"owl": owl, "lark": lark}


def window(start: str, end: str) -> tuple[datetime, datetime]:
    return at(start), at(end)


def ip(address: str, start: str, end: str) -> Target:
    return Target("ip_address", address, window(start, end))


@pytest.mark.parametrize(
    ("target", "who"),
    [
        (Target("email", "owl@mail.EXAMPLE"), "owl"),
        (ip("203.0.113.7", "2026-01-15T08:00", "2026-01-15T09:00"), "owl"),
        (ip("203.0.113.7", "2026-01-15T09:00", "2026-01-15T10:00"), "lark"),
        # Both used it in a wide window: the latest user within it.
        (ip("203.0.113.7", "2026-01-15T00:00", "2026-01-15T23:59"), "lark"),
        (ip("2001:db8::7", "2026-01-20T11:00", "2026-01-20T13:00"), "owl"),
        (Target("url", "https://platform.example/u/nightowl"), "owl"),
        (Target("url", "https://www.platform.example/u/NightOwl/"), "owl"),
        (Target("url", "https://platform.example/c/owl_news"), "owl"),
        (Target("url", "https://platform.example/u/lark"), "lark"),
    ],
    ids=lambda v: v.type + "=" + v.value if isinstance(v, Target) else v,
)
def test_the_directory_finds_the_account_a_new_target_names(accounts, target, who):
    (answer,) = DirectorySource().lookup(scope(target))
    assert answer.found
    assert answer.records["subscriber_info"]["user_id"] == accounts[who].user_id


@pytest.mark.parametrize(
    "target",
    [
        Target("email", "nobody@mail.example"),
        # The address, but outside the window: not the account's then.
        Target("ip_address", "203.0.113.7", window("2026-01-15T10:00", "2026-01-15T11:00")),
        Target("ip_address", "203.0.113.8", window("2026-01-15T00:00", "2026-01-15T23:59")),
        Target("ip_address", "203.0.113.7"),  # no window: nobody
        Target("url", "https://evil.example/u/nightowl"),
        Target("url", "http://platform.example/u/nightowl"),
        Target("url", "https://platform.example/settings"),
        Target("url", "https://platform.example/u/nobody"),
    ],
    ids=lambda t: f"{t.type}={t.value}",
)
def test_the_directory_answers_not_found_for_what_names_no_account(accounts, target):
    (answer,) = DirectorySource().lookup(scope(target))
    assert not answer.found
    assert answer.records == {}


def test_an_ip_address_target_survives_the_scope_limit_and_is_written_with_its_window(
    accounts,
):
    target = Target("ip_address", "203.0.113.7", window("2026-01-15T08:00", "2026-01-15T09:00"))
    limit = scope(target)
    (answer,) = records_within_scope(limit, DirectorySource().lookup(limit))
    assert answer.found
    assert answer.target == target
    assert target.wire() == {
        "type": "ip_address",
        "value": "203.0.113.7",
        "window": {"from": "2026-01-15T08:00:00Z", "to": "2026-01-15T09:00:00Z"},
    }
    # The same address in another window is another target: a source cannot widen it.
    other = Target("ip_address", "203.0.113.7", window("2026-01-15T09:00", "2026-01-15T10:00"))
    assert records_within_scope(scope(other), [answer]) == []
    assert Target("username", "lark").wire() == {"type": "username", "value": "lark"}


@pytest.fixture
def platform_api() -> Iterator[tuple[list[dict[str, Any]], str]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            answer = {
                "targets": [
                    {**target, "found": True, "records": {"subscriber_info": {"user_id": "1"}}}
                    for target in body["targets"]
                ]
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_http_source_sends_the_window_and_pairs_the_answer_by_it(platform_api):
    received, url = platform_api
    ip = Target("ip_address", "203.0.113.7", window("2026-01-15T08:00", "2026-01-15T09:00"))
    email = Target("email", "owl@mail.example")
    limit = scope(ip, email)
    answers = records_within_scope(limit, HttpSource(base_url=url, token="t").lookup(limit))
    (sent,) = received
    assert sent["targets"] == [
        {
            "type": "ip_address",
            "value": "203.0.113.7",
            "window": {"from": "2026-01-15T08:00:00Z", "to": "2026-01-15T09:00:00Z"},
        },
        {"type": "email", "value": "owl@mail.example"},
    ]
    assert [answer.target for answer in answers] == [ip, email]
