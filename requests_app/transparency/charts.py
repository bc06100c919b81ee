"""Geometry of the report's charts, drawn as SVG by templates: no script, no external asset.

Each function takes the numbers a chart shows and returns every position the template
needs, so the templates only write elements. Colours come from classes in
``static/css/transparency.css`` (the page's CSP allows no inline style). Every chart
stands beside a table of the same numbers, which is what assistive technology reads; the
SVG itself is one image with a title and a description.
"""

import math
from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext, pgettext

WIDTH = 640


def nice_ceiling(value: float) -> int:
    """The top of a count axis: a round number at or above ``value`` that splits in four.

    The ticks sit at quarters of it, so it is a multiple of 4 (4, 8, 20, 40, 60, 80, 100,
    200, ...): a count axis never shows a fraction.
    """
    for power in range(16):
        for step in (1, 2, 4, 6, 8):
            candidate = step * 10**power
            if candidate % 4 == 0 and candidate >= value:
                return candidate
    return math.ceil(value / 4) * 4


def number_text(value: float) -> str:
    """A count or figure as the reader's language writes it: 1,234 or 1.234, 12.5 or 12,5."""
    places = 0 if float(value).is_integer() else 1
    return formats.number_format(value, places, force_grouping=True)


def segment_title(label: str, series: str, value: str) -> str:
    # Translators: a chart bar's tooltip: "Germany, properly formed: 120".
    return gettext("%(label)s, %(series)s: %(value)s") % {
        "label": label,
        "series": series,
        "value": value,
    }


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    css: str  # a class of transparency.css: "series-1", "series-2", ...


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # shown as a tooltip: "Germany, properly formed: 120"


@dataclass(frozen=True)
class Tick:
    position: float  # x for horizontal charts, y for columns
    text: str


@dataclass(frozen=True)
class BarRow:
    label: str
    label_x: float
    label_y: float
    segments: list[Segment]
    value_x: float
    value_y: float
    value_text: str


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, one row per label, each stacked from its series' values."""

    width: int
    height: int
    rows: list[BarRow]
    series: list[Series]
    ticks: list[Tick]
    axis_top: float
    axis_bottom: float
    plot_left: float

    @property
    def tick_y(self) -> float:
        return self.axis_top - 6


def bar_chart(
    rows: list[tuple[str, list[float | None]]],
    series: list[Series],
    *,
    maximum: float | None = None,
    value_suffix: str = "",
    label_width: int = 190,
    missing_text: str | None = None,
) -> BarChart:
    """Lay out stacked horizontal bars: ``rows`` are (label, one value per series).

    A row whose values are all None shows ``missing_text`` instead of a bar.
    """
    if missing_text is None:
        missing_text = gettext("not published")
    row_height, bar_height, top, value_room = 30, 18, 24, 80
    plot_left = label_width
    plot_width = WIDTH - label_width - value_room
    totals = [sum(v or 0 for v in values) for _, values in rows]
    scale_max = maximum if maximum is not None else nice_ceiling(max(totals, default=0))
    laid: list[BarRow] = []
    for n, ((label, values), total) in enumerate(zip(rows, totals, strict=True)):
        y = top + n * row_height
        x = float(plot_left)
        segments = []
        for item, value in zip(series, values, strict=True):
            if not value:
                continue
            width = plot_width * value / scale_max
            segments.append(
                Segment(
                    x=round(x, 2),
                    y=y + (row_height - bar_height) / 2,
                    width=round(max(width, 1), 2),
                    height=bar_height,
                    css=item.css,
                    title=segment_title(label, item.label, number_text(value) + value_suffix),
                )
            )
            x += width
        published = any(value is not None for value in values)
        laid.append(
            BarRow(
                label=label,
                label_x=plot_left - 8,
                label_y=y + row_height / 2 + 5,
                segments=segments,
                value_x=round(x + 6, 2),
                value_y=y + row_height / 2 + 5,
                value_text=number_text(total) + value_suffix if published else missing_text,
            )
        )
    bottom = top + len(rows) * row_height
    ticks = [
        Tick(
            position=round(plot_left + plot_width * fraction, 2),
            text=number_text(scale_max * fraction) + value_suffix,
        )
        for fraction in (0, 0.25, 0.5, 0.75, 1)
    ]
    return BarChart(
        width=WIDTH,
        height=int(bottom + 8),
        rows=laid,
        series=series,
        ticks=ticks,
        axis_top=top - 4,
        axis_bottom=bottom,
        plot_left=plot_left,
    )


@dataclass(frozen=True)
class Column:
    label: str
    label_x: float
    segments: list[Segment]
    value_y: float
    value_text: str


@dataclass(frozen=True)
class ColumnChart:
    """Vertical columns, one per period, each stacked from its series' values."""

    width: int
    height: int
    columns: list[Column]
    series: list[Series]
    ticks: list[Tick]
    plot_left: float
    plot_right: float
    baseline: float
    label_y: float

    @property
    def tick_x(self) -> float:
        return self.plot_left - 6


def column_chart(
    columns: list[tuple[str, list[float | None]]], series: list[Series]
) -> ColumnChart:
    """Lay out stacked columns: ``columns`` are (label, one value per series)."""
    height, top, bottom_room, plot_left, plot_right = 260, 24, 40, 56, WIDTH - 12
    baseline = height - bottom_room
    plot_height = baseline - top
    totals = [sum(v or 0 for v in values) for _, values in columns]
    scale_max = nice_ceiling(max(totals, default=0))
    slot = (plot_right - plot_left) / max(len(columns), 1)
    column_width = min(56.0, slot * 0.6)
    laid = []
    for n, ((label, values), total) in enumerate(zip(columns, totals, strict=True)):
        centre = plot_left + slot * (n + 0.5)
        y = float(baseline)
        segments = []
        for item, value in zip(series, values, strict=True):
            if not value:
                continue
            segment_height = plot_height * value / scale_max
            y -= segment_height
            segments.append(
                Segment(
                    x=round(centre - column_width / 2, 2),
                    y=round(y, 2),
                    width=round(column_width, 2),
                    height=round(max(segment_height, 1), 2),
                    css=item.css,
                    title=segment_title(label, item.label, number_text(value)),
                )
            )
        published = any(value is not None for value in values)
        laid.append(
            Column(
                label=label,
                label_x=round(centre, 2),
                segments=segments,
                value_y=round(y - 6, 2),
                # Translators: short for "not published", under a chart's column.
                value_text=number_text(total) if published else pgettext("chart", "n/p"),
            )
        )
    ticks = [
        Tick(
            position=round(baseline - plot_height * fraction, 2),
            text=number_text(scale_max * fraction),
        )
        for fraction in (0, 0.25, 0.5, 0.75, 1)
    ]
    return ColumnChart(
        width=WIDTH,
        height=height,
        columns=laid,
        series=series,
        ticks=ticks,
        plot_left=plot_left,
        plot_right=plot_right,
        baseline=baseline,
        label_y=baseline + 20,
    )


@dataclass(frozen=True)
class StripRow:
    label: str
    label_y: float
    bars: list[Segment]
    total_text: str


@dataclass(frozen=True)
class StripChart:
    """Small multiples: one row of columns per series, all on one scale (staff charts)."""

    width: int
    height: int
    rows: list[StripRow]
    plot_left: float
    maximum_text: str
    first_label: str
    last_label: str
    label_y: float

    @property
    def row_label_x(self) -> float:
        return self.plot_left - 8

    @property
    def total_x(self) -> float:
        return self.width - 54

    @property
    def last_label_x(self) -> float:
        return self.width - 60


def strip_chart(
    rows: list[tuple[str, list[int]]], bucket_labels: list[str], *, label_width: int = 170
) -> StripChart:
    """One row of small columns per label (a rejection code), one column per bucket."""
    row_height, gap, top, total_room = 34, 6, 8, 60
    plot_left = label_width
    plot_width = WIDTH - label_width - total_room
    buckets = max(len(bucket_labels), 1)
    step = plot_width / buckets
    scale_max = nice_ceiling(max((max(values, default=0) for _, values in rows), default=0))
    laid = []
    for n, (label, values) in enumerate(rows):
        base = top + (n + 1) * row_height - gap
        bars = [
            Segment(
                x=round(plot_left + i * step + step * 0.1, 2),
                y=round(base - (row_height - gap) * value / scale_max, 2),
                width=round(step * 0.8, 2),
                height=round(max((row_height - gap) * value / scale_max, 0.5), 2),
                css="series-1" if value else "series-empty",
                title=segment_title(label, bucket_labels[i], number_text(value)),
            )
            for i, value in enumerate(values)
        ]
        laid.append(
            StripRow(
                label=label,
                label_y=base - (row_height - gap) / 2 + 5,
                bars=bars,
                total_text=number_text(sum(values)),
            )
        )
    bottom = top + len(rows) * row_height
    return StripChart(
        width=WIDTH,
        height=int(bottom + 28),
        rows=laid,
        plot_left=plot_left,
        maximum_text=number_text(scale_max),
        first_label=bucket_labels[0] if bucket_labels else "",
        last_label=bucket_labels[-1] if bucket_labels else "",
        label_y=bottom + 18,
    )
