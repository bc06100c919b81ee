"""The data-source interface and the scope limit every disclosure passes through."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

# category -> the key in a record that carries its time (records without one are static)
TIMESTAMP_KEY = "at"


@dataclass(frozen=True)
class Target:
    type: str
    value: str


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
        day = moment.date() if isinstance(moment, datetime) else moment
        return self.period_from <= day <= self.period_to


@dataclass
class TargetRecords:
    """What the platform holds about one target within a scope."""

    target: Target
    found: bool
    # category -> a dict (static facts) or a list of dicts (timestamped events, key "at")
    records: dict[str, Any] = field(default_factory=dict)


class DataSource(Protocol):
    """An adapter to where the platform keeps user data."""

    name: str

    def lookup(self, scope: Scope) -> list[TargetRecords]: ...


class SourceUnavailable(Exception):
    """The data source did not answer; nothing was disclosed."""


def records_within_scope(scope: Scope, answers: list[TargetRecords]) -> list[TargetRecords]:
    """Drop every target, category and timestamped record outside ``scope``."""
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
                    and scope.covers(item[TIMESTAMP_KEY])
                ]
            records[category] = value
        kept.append(TargetRecords(answer.target, answer.found, records))
    return kept
