"""The scope of an approved decision, built only from what the server recorded."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from requests_app.lifecycle.models import RequestTarget
from requests_app.sources.base import DataSource, Scope, Target, TargetRecords, records_within_scope

if TYPE_CHECKING:  # review sits above: a type only
    from requests_app.review.models import Decision

# The columns of the records a data source returns, as people read them.
COLUMN_LABELS = {
    "at": _("Time (UTC)"),
    "ip": _("IP address"),
    "port": _("Port"),
    "kind": _("Kind"),
    "device": _("Device"),
    "user_id": _("User id"),
    "username": _("Username"),
    "display_name": _("Display name"),
    "registered_at": _("Registered at (UTC)"),
    "phone_number": _("Phone number"),
    "email": _("Email address"),
}

SOURCES = {
    "directory": "requests_app.demo_source.directory.DirectorySource",
    "http": "requests_app.sources.http.HttpSource",
}


def source_target(target: RequestTarget) -> Target:
    """A request's target as data sources are asked about it, with an IP address's window."""
    window = (
        (target.window_from, target.window_to)
        if target.window_from is not None and target.window_to is not None
        else None
    )
    return Target(target.type, target.value, window)


def decision_scope(decision: "Decision") -> Scope:
    """The approved targets (of this request only), categories and period of a decision."""
    targets = RequestTarget.objects.filter(
        request_id=decision.request_id, pk__in=decision.approved_target_ids
    ).order_by("pk")
    if decision.approved_period_from is None or decision.approved_period_to is None:
        raise ValueError("An approved decision always has a period.")
    return Scope(
        targets=tuple(source_target(t) for t in targets),
        categories=frozenset(decision.approved_categories),
        period_from=decision.approved_period_from,
        period_to=decision.approved_period_to,
    )


def configured_source() -> DataSource:
    source: DataSource = import_string(SOURCES[settings.PLATFORM_DATA_SOURCE])()
    return source


def decision_records(decision: "Decision", source: DataSource | None = None) -> list[TargetRecords]:
    """Look up what the decision discloses, cut to its scope whatever the source returns."""
    scope = decision_scope(decision)
    return records_within_scope(scope, (source or configured_source()).lookup(scope))
