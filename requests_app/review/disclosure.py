"""What a disclosure would contain, shown to reviewers before anything leaves.

The scope of a preview comes only from what the server recorded: the decision's approved
targets (of its own request), categories and period (``sources.scope.decision_scope``).
No view passes a scope from the browser. Whatever the data source answers is cut to that
scope again by ``records_within_scope``, so the preview is exactly what delivery seals.
"""

from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext, gettext_lazy

from accounts.models import User
from portal.audit import audit_append
from portal.templatetags.portal_time import when_html
from requests_app.lifecycle.models import DataCategory, TargetType
from requests_app.lifecycle.scope import (
    COLUMN_LABELS,
    configured_source,
    decision_records,
    decision_scope,
    source_target,
)
from requests_app.review.models import Decision
from requests_app.review.services import ReviewRefused, disclosure_previewed
from requests_app.sources.base import (
    TIMESTAMP_KEY,
    DataSource,
    Scope,
    Target,
    TargetRecords,
    records_within_scope,
)

__all__ = ["disclosure_preview", "disclosure_previewed"]

PREVIEWABLE = frozenset({Decision.State.PROPOSED, Decision.State.CONFIRMED})


def disclosure_preview(
    *,
    decision: Decision | None = None,
    scope: Scope | None = None,
    viewer: User | None = None,
    source: DataSource | None = None,
) -> list[TargetRecords]:
    """Look up the records a decision (or a scope built in code) would disclose.

    Give ``decision`` from a page; ``scope`` is for code that built one itself. With a
    ``viewer``, the lookup is audited: it shows personal data of the platform's users to
    a reviewer, so who looked at what is on the record. Raises ``SourceUnavailable`` if
    the source does not answer, ``ReviewRefused`` for a decision that discloses nothing.
    """
    if decision is None:
        if scope is None:
            raise TypeError("Give either a decision or a scope.")
        return records_within_scope(scope, (source or configured_source()).lookup(scope))
    if scope is not None:
        raise TypeError("Give either a decision or a scope, not both.")
    if decision.outcome == Decision.Outcome.REJECT or decision.state not in PREVIEWABLE:
        raise ReviewRefused(
            gettext("Only a proposed or confirmed approval has records to preview.")
        )
    records = decision_records(decision, source)
    if viewer is not None:
        _preview_audit(decision, viewer, records)
    return records


def _preview_audit(decision: Decision, viewer: User, records: list[TargetRecords]) -> None:
    scope = decision_scope(decision)
    with transaction.atomic():
        audit_append(
            actor=viewer,
            action="disclosure.previewed",
            target=decision.request,
            data={
                "reference": decision.request.reference,
                "decision_id": decision.pk,
                "targets": [f"{t.type}:{t.value}" for t in scope.targets],
                "categories": sorted(scope.categories),
                "period": [scope.period_from.isoformat(), scope.period_to.isoformat()],
                "found": sum(1 for answer in records if answer.found),
            },
        )


def _category_label(value: str) -> str:
    return str(dict(DataCategory.choices).get(value, value))


def _target_label(target: Target) -> str:
    return f"{dict(TargetType.choices).get(target.type, target.type)}: {target.value}"


def scope_summary(decision: Decision) -> dict[str, Any] | None:
    """What a decision approves, and what of the request it leaves out, for the page."""
    try:
        scope = decision_scope(decision)
    except ValueError:
        return None  # a rejection has no scope
    request = decision.request
    asked_targets = [source_target(t) for t in request.targets.all()]
    return {
        "targets": [_target_label(t) for t in scope.targets],
        "targets_left_out": [_target_label(t) for t in asked_targets if t not in scope.targets],
        "categories": [_category_label(c) for c in sorted(scope.categories)],
        "categories_left_out": [
            _category_label(c) for c in request.data_categories if c not in scope.categories
        ],
        "period_from": scope.period_from,
        "period_to": scope.period_to,
        "asked_from": request.period_from,
        "asked_to": request.period_to,
    }


# Columns holding an RFC 3339 time: shown in the viewer's zone, so labelled without "UTC".
TIME_COLUMNS = {
    TIMESTAMP_KEY: gettext_lazy("Time"),
    "registered_at": gettext_lazy("Registered at"),
}


def _column_label(column: str) -> str:
    return str(TIME_COLUMNS.get(column) or COLUMN_LABELS.get(column) or column)


def _cell(column: str, value: object) -> object:
    """A record's value for the page; a time in the viewer's zone (``{% when %}``)."""
    if column in TIME_COLUMNS and isinstance(value, str) and value:
        moment = parse_datetime(value)
        if moment is not None:
            return when_html(moment)
    return value


def record_rows(records: list[TargetRecords]) -> list[dict[str, object]]:
    """Shape lookup answers for the page: per target, per category, a table of values."""
    rows: list[dict[str, object]] = []
    for answer in records:
        categories = []
        for category, value in sorted(answer.records.items()):
            items = value if isinstance(value, list) else [value]
            items = [item for item in items if isinstance(item, dict)]
            columns = sorted({key for item in items for key in item}, key=_column_order)
            categories.append(
                {
                    "name": category,
                    "label": _category_label(category),
                    "columns": [_column_label(column) for column in columns],
                    # Each cell with its column's label, for the stacked rows of a phone.
                    "rows": [
                        [
                            (_column_label(column), _cell(column, item.get(column, "")))
                            for column in columns
                        ]
                        for item in items
                    ],
                    "events": isinstance(value, list),
                }
            )
        rows.append(
            {
                "target": _target_label(answer.target),
                "found": answer.found,
                "categories": categories,
                # Described, never opened here: the bytes are read only when sealed.
                "files": [
                    {
                        "name": file.name,
                        "category": _category_label(file.category),
                        "at": _cell(TIMESTAMP_KEY, file.at or ""),
                        "media_type": file.media_type,
                        "size": file.size,
                        "sha256": file.sha256,
                    }
                    for file in answer.files
                ],
            }
        )
    return rows


def _column_order(column: str) -> tuple[int, str]:
    # The time first, for events; the rest alphabetically.
    return (0 if column == "at" else 1, column)
