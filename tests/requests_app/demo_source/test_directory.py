"""The demo directory (demo_source): a platform data source over the portal's own tables."""

import pytest

from requests_app.demo_source.directory import DirectorySource, platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.sources.base import Target
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.scopes import at, read_all, scope, sha256


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
        Target("email", "nobody@mail.example"),  # an address no account has
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
