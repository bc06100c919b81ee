"""What a supervisor does with the agency's requests: reply where shared, export the history.

A reply goes through review's one way in for the authority's words
(``review.services.message_from_authority``), with the delegate's access that only a
share (or their own submission) gives; the export is audited, since it takes the
agency's whole history off the portal.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Officer
from portal.audit import audit_append
from requests_app.lifecycle.models import LegalRequest, Message
from requests_app.lifecycle.notify import AUTHORITY_WROTE, notify_on_commit, reviewer_addresses
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.review.services import ReviewRefused, message_from_authority
from requests_app.supervisor.selectors import SupervisedRequest, decision_outcome, readable

MAX_MESSAGE_LENGTH = 10_000
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = (
    "reference",
    "kind",
    "emergency",
    "status",
    "submitted_by",
    "received_at",
    "due_at",
    "decided_at",
    "closed_at",
    "decision",
    "targets",
)


def supervisor_reply(*, supervised: SupervisedRequest, body: str) -> Message:
    """Write in the thread of a request shared with the supervisor; refused otherwise."""
    if supervised.access is None:
        raise OfficerRefused(_("This request is not shared with you."), code="forbidden")
    body = (body or "").strip()
    if not body:
        raise OfficerRefused(_("Write your message."), code="malformed")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise OfficerRefused(
            _("A message has at most %(max)d characters.") % {"max": MAX_MESSAGE_LENGTH},
            code="malformed",
        )
    with transaction.atomic():
        try:
            message = message_from_authority(
                request=supervised.request, officer=supervised.supervisor, body=body
            )
        except ReviewRefused as refused:
            raise OfficerRefused(str(refused)) from None
        notify_on_commit(reviewer_addresses(supervised.request), AUTHORITY_WROTE)
    return message


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text  # shown as text, never run as a formula
    return text


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else ""


class _Line:
    """A file-like object csv.writer writes one line into."""

    def write(self, value: str) -> str:
        return value


def export_rows(requests: Iterable[LegalRequest]) -> Iterator[str]:
    """The CSV lines of the history: target values only for the requests read in full."""
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for item in requests:
        review = getattr(item, "review", None)
        targets = ""
        if readable(item):
            targets = "; ".join(f"{t.type}:{t.value}" for t in item.targets.all())
        yield writer.writerow(
            [
                _cell(item.reference),
                _cell(item.kind),
                "yes" if item.emergency else "no",
                _cell(item.status),
                _cell(item.officer.user.email),
                _when(item.received_at),
                _when(item.due_at),
                _when(review.decided_at if review else None),
                _when(review.closed_at if review else None),
                _cell(decision_outcome(item)),
                _cell(targets),
            ]
        )


def export_record(*, supervisor: Officer, rows: int, with_targets: int) -> None:
    """Write the audit event of an export before the file is sent."""
    with transaction.atomic():
        audit_append(
            actor=supervisor.user,
            action="agency.requests_exported",
            target=supervisor.agency,
            data={"rows": rows, "rows_with_targets": with_targets, "by_supervisor": supervisor.pk},
        )
