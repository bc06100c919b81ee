"""The data-source interface and the scope limit every disclosure passes through."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

# category -> the key in a record that carries its time (records without one are static)
TIMESTAMP_KEY = "at"
# The categories of facts without a time (docs/platform-data-source.md): only these may
# hold a file without a time; a file of any other category needs one within the period.
STATIC_CATEGORIES = frozenset({"subscriber_info", "phone_number", "email_address"})


@dataclass(frozen=True)
class Target:
    """A target as the data source is asked about it (PROTOCOL §2.2).

    An ``ip_address`` carries its ``window``: the UTC times (both ends included) between
    which it was used. It picks out whose address it was; what is disclosed of that
    account still follows the scope's categories and period.
    """

    type: str
    value: str
    window: tuple[datetime, datetime] | None = None

    def wire(self) -> dict[str, Any]:
        """The target as JSON: ``{"type", "value"}``, and ``window`` where it has one."""
        shape: dict[str, Any] = {"type": self.type, "value": self.value}
        if self.window is not None:
            shape["window"] = {"from": utc_text(self.window[0]), "to": utc_text(self.window[1])}
        return shape


def utc_text(moment: datetime) -> str:
    """``2026-02-01T08:00:00Z``: RFC 3339 in UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Scope:
    """What may be looked up: the approved targets, categories and period (inclusive)."""

    targets: tuple[Target, ...]
    categories: frozenset[str]
    period_from: date
    period_to: date

    def covers(self, moment: datetime | date | str) -> bool:
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(UTC)  # the period is in whole UTC days
        day = moment.date() if isinstance(moment, datetime) else moment
        return self.period_from <= day <= self.period_to

    def covers_value(self, value: object) -> bool:
        """Whether ``value`` is a time (RFC 3339 text, or a date) within the period.

        Anything else (a number, malformed text) is not shown to be within it: false.
        """
        if not isinstance(value, str | date):
            return False
        try:
            return self.covers(value)
        except (ValueError, TypeError):
            return False


@dataclass(frozen=True)
class TargetFile:
    """A file the platform holds about a target (a profile photo, an export), by description.

    The bytes are read only when a response is sealed, by calling ``opener``: it returns
    the file's bytes as an iterator of chunks, so a file is never held whole. Size and
    SHA-256 are the source's word; sealing checks the bytes against both.
    """

    name: str  # the platform's name for it; made safe before it names a ZIP member
    media_type: str
    size: int
    sha256: str  # lowercase hex
    category: str
    at: str | None  # RFC 3339 time it belongs to; None only in a static category
    opener: Callable[[], Iterator[bytes]] = field(compare=False, repr=False)


@dataclass
class TargetRecords:
    """What the platform holds about one target within a scope."""

    target: Target
    found: bool
    # category -> a dict (static facts) or a list of dicts (timestamped events, key "at")
    records: dict[str, Any] = field(default_factory=dict)
    files: list[TargetFile] = field(default_factory=list)


class DataSource(Protocol):
    """An adapter to where the platform keeps user data."""

    name: str

    def lookup(self, scope: Scope) -> list[TargetRecords]: ...


class SourceUnavailable(Exception):
    """The data source did not answer; nothing was disclosed."""


def file_within_scope(scope: Scope, file: TargetFile) -> bool:
    """Whether a file is of an approved category and, unless static, of a time in the period."""
    if file.category not in scope.categories:
        return False
    if file.at is None:
        return file.category in STATIC_CATEGORIES
    return scope.covers_value(file.at)


def records_within_scope(scope: Scope, answers: list[TargetRecords]) -> list[TargetRecords]:
    """Drop every target, category, timestamped record and file outside ``scope``."""
    allowed_targets = set(scope.targets)
    kept: list[TargetRecords] = []
    for answer in answers:
        if answer.target not in allowed_targets:
            continue
        records: dict[str, Any] = {}
        for category, value in answer.records.items():
            if category not in scope.categories:
                continue
            if isinstance(value, list):
                value = [
                    item
                    for item in value
                    if isinstance(item, dict)
                    and TIMESTAMP_KEY in item
                    and scope.covers_value(item[TIMESTAMP_KEY])
                ]
            records[category] = value
        files = [file for file in answer.files if file_within_scope(scope, file)]
        kept.append(TargetRecords(answer.target, answer.found, records, files))
    return kept
