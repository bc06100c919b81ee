"""The public document of a period: the figures after small-number suppression.

What a snapshot freezes and what the public page, the CSV and the JSON show. It names
countries and counts, never a case, a reference, an agency or a person. A country with
fewer than ``SMALL_COUNT`` properly formed requests in the period is not named: its
figures are added to "Other countries", so every total stays exact while no single case
of a small country can be read off. Medians and deadline shares need ``SMALL_COUNT``
requests behind them too. The schema: ``schema.json`` beside this file.
"""

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from portal import countries
from requests_app.transparency.figures import Figures, PeriodFigures, figures_sum, scope_figures

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
# Below this many properly formed requests a country is not named (1 or 2 could point at
# a case); below this many answered requests (or requests due) no median (or share).
SMALL_COUNT = 3

WORLD = "world"
OTHER = "other"
UNATTRIBUTED = "unattributed"
AREA_NAMES = {
    WORLD: "World",
    OTHER: "Other countries",
    UNATTRIBUTED: "Sender not recognised",
}

# The figures of an area in the order the JSON and the CSV give them.
FIGURE_KEYS = (
    "received",
    "properly_formed",
    "rejected_at_intake",
    "with_data_disclosed",
    "accounts_affected",
    "emergency",
    "preservation",
    "answered",
    "answered_within_deadline",
    "unanswered_past_deadline",
    "within_deadline_percent",
    "median_hours_to_answer",
)
CSV_COLUMNS = (
    "period",
    "period_kind",
    "first_day",
    "last_day",
    "version",
    "published_at",
    "area",
    "area_name",
    *FIGURE_KEYS,
)

ScopeCounter = Callable[[list[str]], tuple[int, float | None]]


# The areas as the page names them, in the reader's language; the document, the CSV and
# the JSON keep the English names above (data: a reader's script compares them).
AREA_LABELS = {
    WORLD: _("World"),
    OTHER: _("Other countries"),
    UNATTRIBUTED: _("Sender not recognised"),
}

# What each CSV column holds, for people (the page's key to the download). The column
# names themselves are stable English codes.
CSV_COLUMN_MEANINGS = {
    "period": _("The period's key: 2026-Q3 for a quarter, 2026 for a year."),
    "period_kind": _("quarter or year."),
    "first_day": _("The period's first day (UTC), YYYY-MM-DD."),
    "last_day": _("The period's last day (UTC), inclusive."),
    "version": _("The version of the period's figures: 1, then one more per correction."),
    "published_at": _("When this version was published (RFC 3339, UTC)."),
    "area": _(
        "world, a country's two-letter ISO code, other (the countries below the threshold) "
        "or unattributed (sender not recognised)."
    ),
    "area_name": _("The area's name, in English."),
    "received": _("Requests received: properly formed plus rejected at intake."),
    "properly_formed": _("Requests that reached the platform's legal reviewers."),
    "rejected_at_intake": _("Submissions the portal refused before any reviewer saw them."),
    "with_data_disclosed": _("Properly formed requests answered with data."),
    "accounts_affected": _("Distinct accounts named in the disclosed data."),
    "emergency": _("Emergency requests: imminent danger to life or of serious harm."),
    # Translators: preservation = the platform keeps (freezes) data until a court order.
    "preservation": _("Preservation requests: data kept until a court order follows."),
    "answered": _("Requests answered (the reviewers decided)."),
    "answered_within_deadline": _("Requests answered within their deadline."),
    "unanswered_past_deadline": _("Requests not answered and past their deadline."),
    "within_deadline_percent": _("Share of the requests due that were answered in time, in %."),
    "median_hours_to_answer": _(
        "Median hours from receipt to the reviewers' decision, clarification pauses left out."
    ),
}


def country_name(code: str) -> str:
    """The country's English name, as the published document and the downloads keep it."""
    return countries.country_name(code, "en") or code


def area_name(area: str) -> str:
    return AREA_NAMES.get(area) or country_name(area)


def area_label(area: str) -> str:
    """The area's name in the reader's language, for the page."""
    if area in AREA_LABELS:
        return str(AREA_LABELS[area])
    return countries.country_name(area) or area


def figures_public(figures: Figures) -> dict[str, Any]:
    """An area's figures as published: medians and shares only over enough requests."""
    return {
        "received": figures.received,
        "properly_formed": figures.properly_formed,
        "rejected_at_intake": figures.rejected_at_intake,
        "with_data_disclosed": figures.with_data_disclosed,
        "accounts_affected": figures.accounts_affected,
        "emergency": figures.emergency,
        "preservation": figures.preservation,
        "answered": figures.answered,
        "answered_within_deadline": figures.answered_within_deadline,
        "unanswered_past_deadline": figures.unanswered_past_deadline,
        "within_deadline_percent": (
            figures.within_deadline_percent if figures.deadline_due >= SMALL_COUNT else None
        ),
        "median_hours_to_answer": (
            figures.median_hours_to_answer if figures.answered >= SMALL_COUNT else None
        ),
    }


def _pooled(period_figures: PeriodFigures) -> ScopeCounter:
    def count(codes: list[str]) -> tuple[int, float | None]:
        return scope_figures(period=period_figures.period, countries=codes)

    return count


def _english(text: Callable[[], str]) -> str:
    with translation.override("en"):
        return text()


def public_document(
    period_figures: PeriodFigures, *, count_scope: ScopeCounter | None = None
) -> dict[str, Any]:
    """The document a snapshot freezes: world, named countries, the others, unattributed.

    ``count_scope`` counts the distinct accounts and the median over the small countries
    together (by default in SQL, over the same period).
    """
    count_scope = count_scope or _pooled(period_figures)
    named = {
        code: figures
        for code, figures in period_figures.countries.items()
        if figures.properly_formed >= SMALL_COUNT
    }
    small = sorted(code for code in period_figures.countries if code not in named)
    other: dict[str, Any] | None = None
    if small:
        pooled = figures_sum(period_figures.countries[code] for code in small)
        accounts, median = count_scope(small)
        pooled = replace(pooled, accounts_affected=accounts, median_seconds_to_answer=median)
        other = {"countries": len(small), **figures_public(pooled)}
    period = period_figures.period
    return {
        "schema_version": SCHEMA_VERSION,
        "period": {
            "key": period.key,
            "kind": str(period.kind),
            "label": _english(lambda: period.label),
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
        },
        "as_of": period_figures.as_of.isoformat(),
        "small_count_threshold": SMALL_COUNT,
        "world": figures_public(period_figures.world),
        "countries": [
            {"country": code, "name": country_name(code), **figures_public(figures)}
            for code, figures in sorted(named.items())
        ],
        "other_countries": other,
        "unattributed": figures_public(period_figures.unattributed),
    }


def document_sha256(document: dict[str, Any]) -> str:
    """The SHA-256 of a document's canonical JSON: what the audit event records."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def areas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each area of a document with its figures: world, countries, others, unattributed."""
    yield WORLD, document["world"]
    for row in document["countries"]:
        yield row["country"], row
    if document.get("other_countries"):
        yield OTHER, document["other_countries"]
    yield UNATTRIBUTED, document["unattributed"]


def area_figures(document: dict[str, Any], area: str) -> dict[str, Any] | None:
    """The figures of one area (``world``, a country code, ...) or None if not published."""
    return next((figures for code, figures in areas(document) if code == area), None)


def changed_areas(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The areas whose figures differ between two versions of a period."""
    old = {code: {k: figures.get(k) for k in FIGURE_KEYS} for code, figures in areas(before)}
    new = {code: {k: figures.get(k) for k in FIGURE_KEYS} for code, figures in areas(after)}
    every = [*new, *(code for code in old if code not in new)]
    return [code for code in every if old.get(code) != new.get(code)]


def export_json(document: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """The downloadable JSON: the frozen document and which version of the period it is."""
    return {**document, "version": version}


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def export_csv(document: dict[str, Any], version: dict[str, Any]) -> str:
    """One row per area, in ``CSV_COLUMNS`` order; an empty cell is "not published"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    period = document["period"]
    for area, figures in areas(document):
        writer.writerow(
            [
                period["key"],
                period["kind"],
                period["first_day"],
                period["last_day"],
                version["id"],
                version["published_at"],
                area,
                area_name(area),
                *(_cell(figures.get(key)) for key in FIGURE_KEYS),
            ]
        )
    return out.getvalue()


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded
