"""The scope of an approved decision, built only from what the server recorded."""

from django.conf import settings
from django.utils.module_loading import import_string

from ..models import Decision, RequestTarget
from .base import DataSource, Scope, Target, TargetRecords, records_within_scope

SOURCES = {
    "directory": "requests_app.sources.directory.DirectorySource",
    "http": "requests_app.sources.http.HttpSource",
}


def decision_scope(decision: Decision) -> Scope:
    """The approved targets (of this request only), categories and period of a decision."""
    targets = RequestTarget.objects.filter(
        request_id=decision.request_id, pk__in=decision.approved_target_ids
    ).order_by("pk")
    if decision.approved_period_from is None or decision.approved_period_to is None:
        raise ValueError("An approved decision always has a period.")
    return Scope(
        targets=tuple(Target(t.type, t.value) for t in targets),
        categories=frozenset(decision.approved_categories),
        period_from=decision.approved_period_from,
        period_to=decision.approved_period_to,
    )


def configured_source() -> DataSource:
    source: DataSource = import_string(SOURCES[settings.PLATFORM_DATA_SOURCE])()
    return source


def decision_records(decision: Decision, source: DataSource | None = None) -> list[TargetRecords]:
    """Look up what the decision discloses, cut to its scope whatever the source returns."""
    scope = decision_scope(decision)
    return records_within_scope(scope, (source or configured_source()).lookup(scope))
