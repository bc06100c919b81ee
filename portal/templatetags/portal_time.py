"""Times as every page shows them: in the viewer's zone, with its abbreviation, localized.

``{% when value %}`` renders ``<time datetime="…Z">`` (the instant in UTC, for machines)
around the date and time in the active zone (``accounts.PreferencesMiddleware``) in the
active language's own format (Django's ``DATETIME_FORMAT``) and the zone's abbreviation.
``{% when value "date" %}`` shows the date alone. ``{% deadline value %}`` adds how far
away it is, as a localized duration ("in 7 hr 53 min", "2 days ago"; CLDR units, through
Babel). Nothing here builds a date string by hand.
"""

import functools
from datetime import UTC, date, datetime, timedelta

from babel import Locale, UnknownLocaleError
from babel.units import format_unit
from django import template
from django.utils import formats, timezone, translation
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

register = template.Library()


@functools.lru_cache(maxsize=64)
def _babel_locale_of(language: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


@functools.lru_cache(maxsize=4096)
def _unit_text(value: int, unit: str, language: str) -> str:
    """One CLDR unit ("7 hr") in a language: Babel's formatting is the costly part of a
    deadline, and a page of fifty deadlines repeats few (value, unit) pairs."""
    return format_unit(value, unit, length="short", locale=_babel_locale_of(language))


def duration_text(delta: timedelta) -> str:
    """A duration in the active language: the two largest of days, hours and minutes."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        (days, "duration-day"),
        (hours, "duration-hour"),
        (minutes, "duration-minute"),
    ]
    shown = [(value, unit) for value, unit in parts if value][:2] or [(0, "duration-minute")]
    language = translation.get_language() or "en"
    return " ".join(_unit_text(value, unit, language) for value, unit in shown)


def relative_text(moment: datetime, now: datetime | None = None) -> str:
    delta = moment - (now or timezone.now())
    if delta >= timedelta(0):
        return gettext("in %(duration)s") % {"duration": duration_text(delta)}
    return gettext("%(duration)s ago") % {"duration": duration_text(delta)}


def _machine(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def when_html(value: datetime | date | None, style: str = "datetime") -> SafeString:
    if value is None:
        return conditional_escape("")
    if not isinstance(value, datetime):
        return format_html(
            '<time datetime="{}">{}</time>', _machine(value), formats.date_format(value)
        )
    local = timezone.localtime(value)
    if style == "date":
        shown = formats.date_format(local, "DATE_FORMAT")
    else:
        shown = f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.strftime('%Z')}"
    return format_html('<time datetime="{}">{}</time>', _machine(value), shown)


@register.simple_tag
def when(value: datetime | date | None, style: str = "datetime") -> SafeString:
    return when_html(value, style)


@register.simple_tag
def deadline(value: datetime | None) -> SafeString:
    if value is None:
        return conditional_escape("")
    return format_html(
        '{} <span class="relative">({})</span>', when_html(value), relative_text(value)
    )


@register.simple_tag
def now_in_zone() -> datetime:
    return timezone.localtime(timezone.now())
