"""Scopes and files for the data-source tests (lifecycle/test_sources, demo_source/)."""

import hashlib
from datetime import UTC, date, datetime

from requests_app.sources.base import Scope, Target, TargetFile

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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_all(file: TargetFile) -> bytes:
    return b"".join(file.opener())
