"""Periods the figures are counted over: a quarter, a year, or a custom range of days.

Days are UTC days (the portal's ``TIME_ZONE``): a period runs from midnight UTC of its
first day to midnight UTC after its last day. A period has a key that names it in URLs,
the cache and the snapshots: ``2026-Q3``, ``2026``, ``2026-01-01..2026-02-14``.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import models
from django.utils import formats
from django.utils.dates import MONTHS as MONTH_NAMES
from django.utils.translation import gettext, gettext_lazy


class PeriodKind(models.TextChoices):
    QUARTER = "quarter", gettext_lazy("Quarter")
    YEAR = "year", gettext_lazy("Year")
    CUSTOM = "custom", gettext_lazy("Custom range")


# The longest custom range staff may ask figures for (two years and a leap day).
MAX_CUSTOM_DAYS = 731
EARLIEST_YEAR = 2000

# The month's name in the active language (Django's own catalog: "January", "Janeiro").
MONTHS = [MONTH_NAMES[number] for number in range(1, 13)]
_QUARTER_KEY = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR_KEY = re.compile(r"^(\d{4})$")
_CUSTOM_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


class PeriodInvalid(ValueError):
    """A period key or range that names no period the report can count."""


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_text(day: date) -> str:
    return formats.date_format(day, "DATE_FORMAT")


@dataclass(frozen=True, order=True)
class Period:
    """A range of whole UTC days, ``first_day`` to ``last_day`` inclusive."""

    first_day: date
    last_day: date
    kind: str

    @classmethod
    def quarter(cls, year: int, number: int) -> "Period":
        if not 1 <= number <= 4:
            raise PeriodInvalid(gettext("A year has quarters 1 to 4."))
        first = date(year, 3 * number - 2, 1)
        following = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
        return cls(first, following - timedelta(days=1), PeriodKind.QUARTER)

    @classmethod
    def year(cls, year: int) -> "Period":
        return cls(date(year, 1, 1), date(year, 12, 31), PeriodKind.YEAR)

    @classmethod
    def custom(cls, first_day: date, last_day: date) -> "Period":
        if first_day > last_day:
            raise PeriodInvalid(gettext("The range must start on or before its last day."))
        if (last_day - first_day).days + 1 > MAX_CUSTOM_DAYS:
            raise PeriodInvalid(
                gettext("A custom range covers at most %(days)d days.") % {"days": MAX_CUSTOM_DAYS}
            )
        return cls(first_day, last_day, PeriodKind.CUSTOM)

    @classmethod
    def quarter_of(cls, day: date) -> "Period":
        return cls.quarter(day.year, (day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        if self.kind == PeriodKind.QUARTER:
            return f"{self.first_day.year}-Q{(self.first_day.month - 1) // 3 + 1}"
        if self.kind == PeriodKind.YEAR:
            return str(self.first_day.year)
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    @property
    def label(self) -> str:
        """How the page names the period, in the active language: "July to September 2026",
        "2026", a range. The published document keeps the English (``report.public_document``).
        """
        if self.kind == PeriodKind.QUARTER:
            return gettext("%(first_month)s to %(last_month)s %(year)s") % {
                "first_month": MONTHS[self.first_day.month - 1],
                "last_month": MONTHS[self.last_day.month - 1],
                "year": self.first_day.year,
            }
        if self.kind == PeriodKind.YEAR:
            return str(self.first_day.year)
        return gettext("%(first_day)s to %(last_day)s") % {
            "first_day": _day_text(self.first_day),
            "last_day": _day_text(self.last_day),
        }

    @property
    def short_label(self) -> str:
        """A label short enough for a chart's axis: "Q3 2026", "2026", "1 Jan–14 Feb 2026"."""
        if self.kind == PeriodKind.QUARTER:
            # Translators: a quarter of a year on a chart's axis, "Q3 2026".
            return gettext("Q%(quarter)s %(year)s") % {
                "quarter": (self.first_day.month - 1) // 3 + 1,
                "year": self.first_day.year,
            }
        return self.key if self.kind == PeriodKind.YEAR else self.label

    @property
    def start(self) -> datetime:
        """The first instant of the period (inclusive)."""
        return _midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """The instant after the period (exclusive)."""
        return _midnight(self.last_day + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def publishable(self) -> bool:
        """Only quarters and years are published (see docs/transparency.md, "Periods")."""
        return self.kind in (PeriodKind.QUARTER, PeriodKind.YEAR)

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now


def period_parse(key: str) -> Period:
    """Return the period a key names; raise ``PeriodInvalid`` for anything else."""
    key = (key or "").strip()
    try:
        if found := _QUARTER_KEY.match(key):
            period = Period.quarter(int(found[1]), int(found[2]))
        elif found := _YEAR_KEY.match(key):
            period = Period.year(int(found[1]))
        elif found := _CUSTOM_KEY.match(key):
            period = Period.custom(date.fromisoformat(found[1]), date.fromisoformat(found[2]))
        else:
            raise PeriodInvalid(
                gettext("%(key)s names no period: use 2026-Q3, 2026 or a range.")
                % {"key": repr(key)}
            )
    except ValueError as problem:  # an impossible date such as 2026-02-30
        raise PeriodInvalid(str(problem)) from None
    if period.first_day.year < EARLIEST_YEAR:
        raise PeriodInvalid(gettext("The report starts in %(year)d.") % {"year": EARLIEST_YEAR})
    return period


def quarters_back(today: date, count: int) -> list[Period]:
    """The quarter holding ``today`` and the ``count - 1`` before it, newest first."""
    found = [Period.quarter_of(today)]
    while len(found) < count:
        found.append(Period.quarter_of(found[-1].first_day - timedelta(days=1)))
    return found
