"""Reads of the transparency report: the public's (published snapshots) and the staff's.

The public reads only what was published: snapshot documents, which hold no case, no
reference and no name. Live figures, team compliance and the queue are for the
platform's staff (reviewers and vetting administrators); each of those functions checks
the reader's role, as the views do.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import TruncMonth, TruncWeek
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest
from requests_app.transparency.cache import live_cached, public_cached
from requests_app.transparency.figures import CLOCK_RUNNING, PeriodFigures, period_figures
from requests_app.transparency.models import ReviewTeam, Snapshot
from requests_app.transparency.periods import Period, PeriodKind
from requests_app.transparency.report import (
    area_figures,
    area_label,
    changed_areas,
    public_document,
)
from requests_app.transparency.services import current_snapshot, figures_fingerprint

S = LegalRequest.Status
STAFF_ROLES = (Role.REVIEWER, Role.VETTING_ADMIN)
# How many published quarters the "over time" chart shows.
SERIES_QUARTERS = 8


def _require_staff(user: User) -> None:
    if not user.is_authenticated or user.role not in STAFF_ROLES:
        raise PermissionDenied


def _require_vetting_admin(user: User) -> None:
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN:
        raise PermissionDenied


# --- Public: published snapshots ------------------------------------------------------------


@dataclass(frozen=True)
class PublishedPeriod:
    key: str
    kind: str
    first_day: date
    last_day: date

    # Named in the reader's language on each use: the list is cached for every reader.
    @property
    def label(self) -> str:
        return Period(self.first_day, self.last_day, self.kind).label

    @property
    def short_label(self) -> str:
        return Period(self.first_day, self.last_day, self.kind).short_label


@dataclass(frozen=True)
class VersionInfo:
    id: int
    published_at: datetime
    correction_reason: str
    changed_areas: list[str]
    current: bool

    @property
    def changed_names(self) -> list[str]:
        return [area_label(code) for code in self.changed_areas]


@dataclass(frozen=True)
class PublishedReport:
    """One version of one period's published figures, and the period's other versions."""

    period: Period
    document: dict[str, Any]
    version: VersionInfo
    versions: list[VersionInfo]  # oldest first, this one included

    @property
    def first_published_at(self) -> datetime:
        return self.versions[0].published_at

    @property
    def corrections(self) -> list[VersionInfo]:
        return self.versions[1:]

    def version_document(self) -> dict[str, Any]:
        """The ``version`` object of the JSON download (docs/transparency.md)."""
        position = next(n for n, v in enumerate(self.versions) if v.id == self.version.id)
        before = self.versions[position - 1].id if position > 0 else None
        after = self.versions[position + 1].id if position + 1 < len(self.versions) else None
        return {
            "id": self.version.id,
            "published_at": self.version.published_at.isoformat(),
            "current": self.version.current,
            "supersedes": before,
            "superseded_by": after,
            "correction_reason": self.version.correction_reason,
            "changed_areas": self.version.changed_areas,
        }


def _published_periods() -> list[PublishedPeriod]:
    rows = Snapshot.objects.filter(superseded_by__isnull=True).order_by("-last_day", "period_kind")
    return [
        PublishedPeriod(
            key=s.period_key,
            kind=s.period_kind,
            first_day=s.first_day,
            last_day=s.last_day,
        )
        for s in rows.only("period_key", "period_kind", "first_day", "last_day")
    ]


def published_periods() -> list[PublishedPeriod]:
    """Every published period, newest first (a year after its fourth quarter)."""
    return public_cached("periods", _published_periods)


def _report(snapshots: list[Snapshot], chosen: Snapshot) -> PublishedReport:
    versions = []
    previous: Snapshot | None = None
    for snapshot in snapshots:
        versions.append(
            VersionInfo(
                id=snapshot.pk,
                published_at=snapshot.published_at,
                correction_reason=snapshot.correction_reason,
                changed_areas=(
                    changed_areas(previous.document, snapshot.document) if previous else []
                ),
                current=snapshot is snapshots[-1],
            )
        )
        previous = snapshot
    version = next(v for v in versions if v.id == chosen.pk)
    return PublishedReport(
        period=chosen.period, document=chosen.document, version=version, versions=versions
    )


def _versions_of(period_key: str) -> list[Snapshot]:
    """A period's versions, oldest first, following the chain of corrections."""
    snapshots = list(Snapshot.objects.filter(period_key=period_key))
    by_supersedes = {s.supersedes_id: s for s in snapshots}
    chain: list[Snapshot] = []
    link = by_supersedes.get(None)
    while link is not None:
        chain.append(link)
        link = by_supersedes.get(link.pk)
    return chain


def published_report(period_key: str) -> PublishedReport | None:
    """The newest version of a period's figures, or None if it was never published."""

    def load() -> PublishedReport | None:
        chain = _versions_of(period_key)
        return _report(chain, chain[-1]) if chain else None

    return public_cached(f"report:{period_key}", load)


def published_version(snapshot_id: int) -> PublishedReport:
    """Any version, current or corrected since, for the downloads (404 if none)."""
    snapshot = Snapshot.objects.filter(pk=snapshot_id).first()
    if snapshot is None:
        raise Http404
    chain = _versions_of(snapshot.period_key)
    return _report(chain, next(s for s in chain if s.pk == snapshot.pk))


@dataclass(frozen=True)
class SeriesPoint:
    period: PublishedPeriod
    figures: dict[str, Any] | None  # None: the area was not named in that quarter


def quarter_series(area: str) -> list[SeriesPoint]:
    """An area's figures in each of the last published quarters, oldest first."""

    def load() -> list[SeriesPoint]:
        quarters = [p for p in _published_periods() if p.kind == PeriodKind.QUARTER]
        chosen = quarters[:SERIES_QUARTERS]
        documents = {
            s.period_key: s.document
            for s in Snapshot.objects.filter(
                period_key__in=[p.key for p in chosen], superseded_by__isnull=True
            )
        }
        return [
            SeriesPoint(period=p, figures=area_figures(documents[p.key], area))
            for p in reversed(chosen)
        ]

    return public_cached(f"series:{area}", load)


# --- Staff: live figures and publication ------------------------------------------------------


def live_figures(*, user: User, period: Period, fresh: bool = False) -> PeriodFigures:
    """A period's figures as they stand (cached a few minutes; ``fresh`` counts again)."""
    _require_staff(user)
    return live_cached(period.key, lambda: period_figures(period=period), fresh=fresh)


@dataclass(frozen=True)
class PublishPreview:
    """What publishing a period would freeze, next to what is published now."""

    period: Period
    document: dict[str, Any]
    fingerprint: str
    current: Snapshot | None
    changed: list[str] = field(default_factory=list)

    @property
    def changed_names(self) -> list[str]:
        return [area_label(code) for code in self.changed]


def publish_preview(*, user: User, period: Period) -> PublishPreview:
    """Count the period now, as a publication would, and compare with the published one."""
    _require_vetting_admin(user)
    document = public_document(period_figures(period=period))
    current = current_snapshot(period.key)
    return PublishPreview(
        period=period,
        document=document,
        fingerprint=figures_fingerprint(document),
        current=current,
        changed=changed_areas(current.document, document) if current is not None else [],
    )


def snapshots_recent(*, user: User, limit: int = 40) -> list[Snapshot]:
    """The newest publications and corrections, with who published them (staff only)."""
    _require_staff(user)
    return list(
        Snapshot.objects.select_related("published_by", "superseded_by").order_by(
            "-published_at", "-pk"
        )[:limit]
    )


# --- Staff: intake rejections over time ------------------------------------------------------


@dataclass(frozen=True)
class RejectionSeries:
    unit: str  # "week" or "month"
    buckets: list[date]  # the first day of each week (Monday) or month, oldest first
    codes: list[str]  # most frequent first
    counts: dict[str, list[int]]  # code -> one count per bucket
    totals: list[int]  # per bucket

    @property
    def rows(self) -> list[tuple[date, list[int], int]]:
        """(bucket, count per code in ``codes`` order, total), for the table."""
        return [
            (bucket, [self.counts[code][n] for code in self.codes], self.totals[n])
            for n, bucket in enumerate(self.buckets)
        ]


def _buckets(period: Period, unit: str) -> list[date]:
    if unit == "week":
        day = period.first_day - timedelta(days=period.first_day.weekday())
        found = []
        while day <= period.last_day:
            found.append(day)
            day += timedelta(days=7)
        return found
    found = []
    day = period.first_day.replace(day=1)
    while day <= period.last_day:
        found.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return found


def rejections_by_code(*, user: User, period: Period) -> RejectionSeries:
    """Intake rejections per code and week (month, over more than ~6 months)."""
    _require_staff(user)
    unit = "week" if period.days <= 190 else "month"
    trunc = TruncWeek("at") if unit == "week" else TruncMonth("at")
    rows = (
        IntakeRejection.objects.filter(at__gte=period.start, at__lt=period.end)
        .annotate(bucket=trunc)
        .values("bucket", "code")
        .order_by()
        .annotate(n=Count("pk"))
    )
    buckets = _buckets(period, unit)
    position = {bucket: n for n, bucket in enumerate(buckets)}
    counts: dict[str, list[int]] = {}
    for row in rows:
        series = counts.setdefault(row["code"], [0] * len(buckets))
        series[position[row["bucket"].date()]] += row["n"]
    codes = sorted(counts, key=lambda code: (-sum(counts[code]), code))
    totals = [sum(counts[code][n] for code in codes) for n in range(len(buckets))]
    return RejectionSeries(unit=unit, buckets=buckets, codes=codes, counts=counts, totals=totals)


# --- Staff: deadline compliance per team, and the queue now ------------------------------------

UNASSIGNED = "unassigned"
NO_TEAM = "no_team"
TEAM = "team"
GROUP_LABELS = {
    UNASSIGNED: gettext_lazy("Not assigned to anyone"),
    NO_TEAM: gettext_lazy("Assignee in no team"),
}


def _team_group() -> Case:
    return Case(
        When(review__assignee__isnull=True, then=Value(UNASSIGNED)),
        When(review__assignee__review_team_membership__isnull=True, then=Value(NO_TEAM)),
        default=Value(TEAM),
    )


@dataclass(frozen=True)
class TeamCompliance:
    label: str
    team_id: int | None
    requests: int
    answered: int
    answered_within_deadline: int
    unanswered_past_deadline: int

    @property
    def due(self) -> int:
        return self.answered + self.unanswered_past_deadline

    @property
    def within_percent(self) -> float | None:
        return round(100 * self.answered_within_deadline / self.due, 1) if self.due else None


def _team_names() -> dict[int, str]:
    return dict(ReviewTeam.objects.values_list("pk", "name"))


def _group_label(group: str, team_id: int | None, names: dict[int, str]) -> str:
    if group == TEAM and team_id is not None:
        return names.get(team_id) or str(gettext_lazy("A deleted team"))
    return str(GROUP_LABELS[group])


def team_compliance(
    *, user: User, period: Period, now: datetime | None = None
) -> list[TeamCompliance]:
    """Deadline compliance of the requests received in a period, by the assignee's team."""
    _require_staff(user)
    now = now or timezone.now()
    rows = (
        LegalRequest.objects.filter(received_at__gte=period.start, received_at__lt=period.end)
        .annotate(group=_team_group(), team_id=F("review__assignee__review_team_membership__team"))
        .values("group", "team_id")
        .order_by()
        .annotate(
            requests=Count("pk"),
            answered=Count("pk", filter=Q(review__decided_at__isnull=False)),
            within=Count("pk", filter=Q(review__decided_at__lte=F("due_at"))),
            late=Count("pk", filter=Q(status__in=CLOCK_RUNNING, due_at__lt=now)),
        )
    )
    names = _team_names()
    found = [
        TeamCompliance(
            label=_group_label(row["group"], row["team_id"], names),
            team_id=row["team_id"],
            requests=row["requests"],
            answered=row["answered"],
            answered_within_deadline=row["within"],
            unanswered_past_deadline=row["late"],
        )
        for row in rows
    ]
    # Teams by name, then the requests no team answers for.
    return sorted(found, key=lambda row: (row.team_id is None, row.label))


@dataclass(frozen=True)
class QueueGroup:
    label: str
    team_id: int | None
    open: int
    emergency: int
    overdue: int
    due_soon: int


@dataclass(frozen=True)
class QueueLoad:
    now: datetime
    by_status: list[tuple[str, str, int]]  # (status, label, count)
    total: int
    emergency: int
    overdue: int
    due_soon: int
    unassigned: int
    by_team: list[QueueGroup]


QUEUE_STATES = (S.RECEIVED, S.IN_REVIEW, S.AWAITING_CLARIFICATION, S.APPROVED)
DUE_SOON = timedelta(hours=48)


def queue_load(*, user: User, now: datetime | None = None) -> QueueLoad:
    """The open work now: requests by state, emergencies, deadlines, and per team."""
    _require_staff(user)
    now = now or timezone.now()
    running = Q(status__in=CLOCK_RUNNING)
    aggregates = {
        "open": Count("pk"),
        "emergency": Count("pk", filter=Q(emergency=True)),
        "overdue": Count("pk", filter=running & Q(due_at__lt=now)),
        "due_soon": Count("pk", filter=running & Q(due_at__gte=now, due_at__lt=now + DUE_SOON)),
    }
    open_work = LegalRequest.objects.filter(status__in=QUEUE_STATES)
    per_status = {
        row["status"]: row["n"]
        for row in open_work.values("status").order_by().annotate(n=Count("pk"))
    }
    totals = open_work.aggregate(
        **aggregates, unassigned=Count("pk", filter=Q(review__assignee__isnull=True))
    )
    names = _team_names()
    by_team = sorted(
        (
            QueueGroup(
                label=_group_label(row["group"], row["team_id"], names),
                team_id=row["team_id"],
                open=row["open"],
                emergency=row["emergency"],
                overdue=row["overdue"],
                due_soon=row["due_soon"],
            )
            for row in cast(
                Iterable[dict[str, Any]],
                open_work.annotate(
                    group=_team_group(),
                    team_id=F("review__assignee__review_team_membership__team"),
                )
                .values("group", "team_id")
                .order_by()
                .annotate(**aggregates),
            )
        ),
        key=lambda row: (row.team_id is None, row.label),
    )
    return QueueLoad(
        now=now,
        by_status=[(str(s), str(S(s).label), per_status.get(s, 0)) for s in QUEUE_STATES],
        total=totals["open"],
        emergency=totals["emergency"],
        overdue=totals["overdue"],
        due_soon=totals["due_soon"],
        unassigned=totals["unassigned"],
        by_team=by_team,
    )


# --- Staff: teams ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamsOverview:
    teams: list[ReviewTeam]  # with .member_list: the reviewers, by name
    without_team: list[User]  # active reviewers in no team


def teams_overview(*, user: User) -> TeamsOverview:
    _require_staff(user)
    teams = list(ReviewTeam.objects.prefetch_related("members__user"))
    for team in teams:
        team.member_list = sorted(  # type: ignore[attr-defined]
            (member.user for member in team.members.all()), key=lambda u: u.full_name
        )
    without = list(
        User.objects.filter(
            role=Role.REVIEWER, is_active=True, review_team_membership__isnull=True
        ).order_by("full_name")
    )
    return TeamsOverview(teams=teams, without_team=without)


def team_get_for_admin(*, user: User, team_id: int) -> ReviewTeam:
    _require_vetting_admin(user)
    team = ReviewTeam.objects.filter(pk=team_id).first()
    if team is None:
        raise Http404
    return team


def reviewer_get_for_admin(*, user: User, reviewer_id: int) -> User:
    _require_vetting_admin(user)
    reviewer = User.objects.filter(pk=reviewer_id, role=Role.REVIEWER).first()
    if reviewer is None:
        raise Http404
    return reviewer
