"""What a test's action added to the audit chain: take a mark, then read what came after."""

from django.db.models import Max

from portal.models import AuditEvent


def audit_mark() -> int:
    """The newest event's sequence number (0 for an empty chain)."""
    return AuditEvent.objects.aggregate(seq=Max("seq"))["seq"] or 0


def audit_since(mark: int) -> list[AuditEvent]:
    """The events appended after ``mark``, oldest first."""
    return list(AuditEvent.objects.filter(seq__gt=mark).order_by("seq"))


def actions_since(mark: int) -> list[str]:
    """The actions of the events appended after ``mark``, oldest first."""
    return [event.action for event in audit_since(mark)]
