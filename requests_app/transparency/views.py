"""The public transparency report: /transparency/, its downloads and their schema.

Open to anyone (``public``), and built only from published snapshots: nothing here reads
a request. Switching period or country is a plain GET form, so the page needs no script.
"""

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django_countries import countries as all_countries

from accounts.access import public
from portal.countries import name_key
from portal.tree_heads import latest_head_for_page
from requests_app.transparency.charts import Series, bar_chart, column_chart
from requests_app.transparency.forms import ReportChoiceForm
from requests_app.transparency.periods import PeriodInvalid, period_parse
from requests_app.transparency.report import (
    CSV_COLUMN_MEANINGS,
    CSV_COLUMNS,
    OTHER,
    UNATTRIBUTED,
    WORLD,
    area_figures,
    area_label,
    export_csv,
    export_json,
    schema,
)
from requests_app.transparency.selectors import (
    PublishedReport,
    published_periods,
    published_report,
    published_version,
    quarter_series,
)


def received_series() -> list[Series]:
    return [
        Series("properly_formed", _("Properly formed"), "series-1"),
        Series("rejected_at_intake", _("Rejected at intake"), "series-2"),
    ]


def outcome_rows() -> list[tuple[str, str]]:
    return [
        ("properly_formed", _("Properly formed")),
        ("answered", _("Answered")),
        ("answered_within_deadline", _("Answered within the deadline")),
        ("with_data_disclosed", _("With data disclosed")),
    ]


# How long a browser or proxy may keep a download; a correction replaces it after that.
DOWNLOAD_MAX_AGE = 300


def _country_choices(report: PublishedReport) -> list[tuple[str, str]]:
    named = [(row["country"], area_label(row["country"])) for row in report.document["countries"]]
    return sorted(named, key=lambda choice: name_key(choice[1]))


def _by_received(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The named countries, most requests first, each named in the reader's language."""
    rows = [{**row, "name": area_label(row["country"])} for row in document["countries"]]
    return sorted(rows, key=lambda row: (-row["received"], name_key(row["name"])))


def _by_country_chart(document: dict[str, Any]) -> Any:
    rows = _by_received(document)
    lines = [(row["name"], [row["properly_formed"], row["rejected_at_intake"]]) for row in rows]
    if document["other_countries"]:
        other = document["other_countries"]
        lines.append((area_label(OTHER), [other["properly_formed"], other["rejected_at_intake"]]))
    unattributed = document["unattributed"]
    lines.append((area_label(UNATTRIBUTED), [0, unattributed["rejected_at_intake"]]))
    return bar_chart(lines, received_series())


def _series_chart(area: str) -> tuple[Any, list[Any]]:
    points = quarter_series(area)
    columns = [
        (
            point.period.short_label,
            [point.figures["properly_formed"], point.figures["rejected_at_intake"]]
            if point.figures
            else [None, None],
        )
        for point in points
    ]
    return column_chart(columns, received_series()), points


def _share(part: int, whole: int) -> str:
    return percent_text(100 * part / whole) if whole else "–"


def percent_text(value: float) -> str:
    # Translators: a percentage; some languages put a space before the sign.
    return _("%(number)s%%") % {"number": formats.number_format(value, 1)}


def key_figures(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, note) for the summary at the top of the page."""
    formed = figures["properly_formed"]
    median = figures["median_hours_to_answer"]
    within = figures["within_deadline_percent"]
    withheld = _("Not published: too few requests to show without pointing at a case.")
    due = figures["answered"] + figures["unanswered_past_deadline"]
    return [
        (
            _("Requests received"),
            formats.number_format(figures["received"]),
            _("%(formed)s properly formed, %(rejected)s rejected at intake")
            % {"formed": formed, "rejected": figures["rejected_at_intake"]},
        ),
        (
            _("Requests with data disclosed"),
            formats.number_format(figures["with_data_disclosed"]),
            _("%(share)s of the properly formed requests")
            % {"share": _share(figures["with_data_disclosed"], formed)},
        ),
        (
            _("Accounts affected"),
            formats.number_format(figures["accounts_affected"]),
            _("Distinct accounts disclosed"),
        ),
        (
            # Translators: emergency requests = data asked without a court order because a
            # life is in imminent danger.
            _("Emergency requests"),
            formats.number_format(figures["emergency"]),
            _("Danger to life or of serious harm"),
        ),
        (
            # Translators: preservation = the platform keeps (freezes) data until a court
            # order follows.
            _("Preservation requests"),
            formats.number_format(figures["preservation"]),
            _("Data kept, not disclosed"),
        ),
        (
            _("Median time to answer"),
            _("%(hours)s hours") % {"hours": formats.number_format(median, 1)}
            if median is not None
            else "–",
            _("Receipt to decision, clarification pauses left out")
            if median is not None
            else withheld,
        ),
        (
            _("Answered within the deadline"),
            percent_text(within) if within is not None else "–",
            ngettext(
                "%(answered)s of %(due)s request due",
                "%(answered)s of %(due)s requests due",
                due,
            )
            % {"answered": figures["answered_within_deadline"], "due": due}
            if within is not None
            else withheld,
        ),
    ]


def _outcome_chart(figures: dict[str, Any]) -> Any:
    return bar_chart(
        [(label, [figures[key]]) for key, label in outcome_rows()],
        [Series("requests", _("Requests"), "series-1")],
        label_width=230,
    )


@public
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    """The world or one country, for one published period: figures, charts, tables."""
    periods = published_periods()
    context: dict[str, Any] = {
        "periods": periods,
        "report": None,
        "audit_tree_head": latest_head_for_page(),
    }
    if not periods:
        return render(request, "transparency/report.html", context)
    default = next((p for p in periods if p.kind == "quarter"), periods[0])
    key = request.GET.get("period") or default.key
    if key not in {p.key for p in periods}:
        raise Http404("No figures are published for this period.")
    report = published_report(key)
    if report is None:  # unpublished between the two reads (cannot happen: never deleted)
        raise Http404
    raw = (request.GET.get("country") or WORLD).strip()
    area = WORLD if raw.lower() == WORLD else raw.upper()
    if area != WORLD and area not in all_countries:
        raise Http404("There is no such country.")
    figures = area_figures(report.document, area)
    country_choices = _country_choices(report)
    if area != WORLD and figures is None:
        # Keep the reader's choice in the form, saying why it shows nothing.
        country_choices.append(
            (area, _("%(country)s (not named in this period)") % {"country": area_label(area)})
        )
    form = ReportChoiceForm(
        initial={"period": key, "country": area},
        periods=[(p.key, p.label) for p in periods],
        countries=country_choices,
    )
    series_chart, series = _series_chart(area)
    context.update(
        form=form,
        report=report,
        period=report.period,
        document=report.document,
        area=area,
        area_label=area_label(area),
        is_world=area == WORLD,
        figures=figures,
        by_country=_by_country_chart(report.document) if area == WORLD else None,
        countries_by_received=_by_received(report.document),
        series_chart=series_chart,
        series=series,
        outcome_chart=_outcome_chart(figures) if figures else None,
        outcome_rows=[
            (label, figures[key], _share(figures[key], figures["properly_formed"]))
            for key, label in outcome_rows()
        ]
        if figures
        else [],
        key_figures=key_figures(figures) if figures else [],
        json_url=reverse("transparency-json", args=[key]),
        csv_url=reverse("transparency-csv", args=[key]),
        schema_url=reverse("transparency-schema"),
        csv_columns=[(name, CSV_COLUMN_MEANINGS[name]) for name in CSV_COLUMNS],
    )
    return render(request, "transparency/report.html", context)


def _json_response(report: PublishedReport) -> JsonResponse:
    body = export_json(report.document, report.version_document())
    response = JsonResponse(body, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = (
        f'attachment; filename="transparency-{report.period.key}-v{report.version.id}.json"'
    )
    return response


def _csv_response(report: PublishedReport) -> HttpResponse:
    body = export_csv(report.document, report.version_document())
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="transparency-{report.period.key}-v{report.version.id}.csv"'
    )
    return response


def _current(period_key: str) -> PublishedReport:
    try:
        period_parse(period_key)
    except PeriodInvalid:
        raise Http404 from None
    report = published_report(period_key)
    if report is None:
        raise Http404("No figures are published for this period.")
    return report


@public
@require_GET
@cache_control(public=True, max_age=DOWNLOAD_MAX_AGE)
def download_json(request: HttpRequest, period_key: str) -> HttpResponse:
    """The newest version of a period's figures as JSON (schema: /transparency/schema.json)."""
    return _json_response(_current(period_key))


@public
@require_GET
@cache_control(public=True, max_age=DOWNLOAD_MAX_AGE)
def download_csv(request: HttpRequest, period_key: str) -> HttpResponse:
    """The newest version of a period's figures as CSV, one row per area."""
    return _csv_response(_current(period_key))


@public
@require_GET
@cache_control(public=True, max_age=DOWNLOAD_MAX_AGE)
def version_json(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    """Any published version, corrected since or not, as JSON."""
    return _json_response(published_version(snapshot_id))


@public
@require_GET
@cache_control(public=True, max_age=DOWNLOAD_MAX_AGE)
def version_csv(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    return _csv_response(published_version(snapshot_id))


@public
@require_GET
@cache_control(public=True, max_age=3600)
def schema_json(request: HttpRequest) -> HttpResponse:
    """The JSON Schema of the downloads (the CSV's columns are its ``csv_row``)."""
    return HttpResponse(
        json.dumps(schema(), indent=2), content_type="application/schema+json; charset=utf-8"
    )
