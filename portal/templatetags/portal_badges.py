"""The clock badges: a deadline's or a preservation's state, as words in a coloured pill.

Not by colour alone: before its words each badge carries a sign (⚠ overdue, ‖ paused,
‼ emergency, ◷ the others), hidden from screen readers (the words say it).
``{% clock_badge kind label %}`` writes one on a page; the review queue's rows, written
in Python (``requests_app/review/queue_table.py``), call the same function, so every
badge of the portal reads alike. ``{% clock_badge "overdue" label "overdue-flag" %}``
adds a class of the page's own.
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# kind -> (its class in the stylesheet, clock-<class>; the sign beside its words)
CLOCK_BADGES: dict[str, tuple[str, str]] = {
    "emergency": ("overdue", "‼"),
    "overdue": ("overdue", "⚠"),
    "paused": ("paused", "‖"),
    "today": ("today", "◷"),
    "soon": ("soon", "◷"),
    "ending": ("ending", "◷"),
}


@register.simple_tag
def clock_badge(kind: str, label: str, extra_class: str = "") -> SafeString:
    """The badge of ``kind`` (a key of ``CLOCK_BADGES``) saying ``label`` (escaped)."""
    try:
        css_class, sign = CLOCK_BADGES[kind]
    except KeyError:
        raise ValueError(f"no clock badge of kind {kind!r}") from None
    classes = f"clock clock-{css_class}"
    if extra_class:
        classes += f" {extra_class}"
    return format_html(
        '<span class="{}"><span aria-hidden="true">{} </span>{}</span>', classes, sign, label
    )
