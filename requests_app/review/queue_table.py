"""The review queue's table rows, written in one pass instead of a template per row.

The queue shows fifty rows a page; written through the template, each row's forty-odd
nodes (its variables, conditions, translations, the deadline tag, a CSRF field) cost
more CPU than the page's queries. Here the words every row shares are translated once a
page, each value is escaped as the template's autoescaping would (``html.escape``, quotes
included), the deadline comes from the same function as ``{% deadline %}`` and the badges
from the same as ``{% clock_badge %}`` (each written once a page), so the rows read
exactly as the template wrote them (``tests/requests_app/review/test_queue.py`` checks
them).
"""

from collections.abc import Callable, Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from portal.templatetags.portal_badges import clock_badge
from portal.templatetags.portal_time import deadline
from requests_app.review.selectors import QueueRow

_EMERGENCY_ROW = ' class="emergency"'


def queue_rows_html(
    rows: Sequence[QueueRow],
    *,
    page_url: Callable[[str], str],
    claim_url: Callable[[str], str],
    csrf_token: str,
) -> SafeString:
    """The ``<tr>`` of every row, in the active language and zone ("" for no rows).

    ``page_url`` and ``claim_url`` give a reference's request page and claim action;
    ``csrf_token`` is the page's token for the claim forms.
    """
    if not rows:
        return mark_safe("")  # noqa: S308 (empty)
    # The words of every row, translated (and escaped) once for the page.
    kind_header = escape(gettext("Kind"))
    from_header = escape(gettext("From"))
    state_header = escape(gettext("State"))
    due_header = escape(gettext("Due"))
    assignee_header = escape(gettext("Assigned to"))
    action_header = escape(gettext("Action"))
    you = escape(gettext("You"))
    nobody = escape(gettext("Nobody"))
    take_over = escape(gettext("Take over"))
    claim = escape(gettext("Claim"))
    # The badges, written once for the page (a deadline's: once per kind and words).
    emergency_badge = clock_badge("emergency", gettext("Emergency"))
    overdue_flag = clock_badge("overdue", gettext("Overdue"), "overdue-flag")
    deadline_badges: dict[tuple[str, str], str] = {}
    csrf_input = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
    parts: list[str] = []
    for row in rows:
        request = row.request
        reference = escape(request.reference)
        flag = f"<br>{emergency_badge}" if request.emergency else ""
        due = f"{deadline(row.deadline.due_at)}\n"
        if row.badge_label:
            key = (row.badge, row.badge_label)
            if key not in deadline_badges:
                deadline_badges[key] = clock_badge(*key)
            due += f"<br>{deadline_badges[key]}"
        if row.overdue and row.badge != "overdue":
            due += f'<br>{overdue_flag}<br><span class="hint">{escape(row.overdue_text)}</span>'
        if row.mine:
            assignee = you
        elif row.assignee is not None:
            assignee = escape(row.assignee.full_name)
        else:
            assignee = f'<span class="hint">{nobody}</span>'
        action = ""
        if row.claimable:
            action = (
                f'\n<form method="post" action="{escape(claim_url(request.reference))}" '
                f'class="inline">\n{csrf_input}\n<button type="submit" class="button small">'
                f"{take_over if row.assignee is not None else claim}"
                f'<span class="visually-hidden"> {reference}</span></button>\n</form>'
            )
        parts.append(
            f"<tr{_EMERGENCY_ROW if request.emergency else ''}>\n"
            f'<th scope="row">\n<a href="{escape(page_url(request.reference))}">{reference}</a>'
            f"\n{flag}\n</th>\n"
            f'<td data-label="{kind_header}">{escape(row.kind_label)}</td>\n'
            f'<td data-label="{from_header}">{escape(request.agency.name)}<br>'
            f'<span class="hint">{escape(row.country_name)}</span></td>\n'
            f'<td data-label="{state_header}"><span class="status status-'
            f'{escape(request.status)}">{escape(row.status_label)}</span></td>\n'
            f'<td data-label="{due_header}">\n{due}\n</td>\n'
            f'<td data-label="{assignee_header}">{assignee}</td>\n'
            f'<td data-label="{action_header}">{action}\n</td>\n</tr>\n'
        )
    # Every value above is escaped (html.escape, quotes included); the deadline and the
    # badges are portal_time's and portal_badges' (format_html), already safe HTML.
    return mark_safe("".join(parts))  # noqa: S308
