"""The one spelling of an instant in what the portal signs and hashes."""

from datetime import UTC, datetime


def canonical_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds: ``2026-11-22T10:00:00.000000Z``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
