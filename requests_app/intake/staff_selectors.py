"""Reads for the staff page of intake rejections at a glance (vetting administrators only).

The overview is a fixed handful of SQL aggregations whatever the size of the log: counts
are computed by the database (``Count``, ``TruncDate``), and only the per-day, per-agency
signature failures come back as rows for the burst rule. Every function checks the
reader, as the views do.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from accounts.models import Agency, Role, User
from requests_app.intake.models import IntakeRejection

# Problem codes an attacker with a stolen token, a guessed key id or a forged body meets.
SIGNATURE_CODES = ("bad_signature", "unknown_key")
# The intake refusal codes of PROTOCOL §5.2, each with what it means, in the reader's
# language: the page shows them beside the codes and in the filter.
REJECTION_MEANINGS: dict[str, Promise] = {
    "malformed": gettext_lazy(
        "The submission could not be read, or does not follow the protocol's format."
    ),
    "unauthenticated": gettext_lazy("No valid token or verified login came with the submission."),
    "unknown_key": gettext_lazy("The key id is not one of the sender's own keys or passkeys."),
    "bad_signature": gettext_lazy("The signature does not match the payload."),
    "key_not_active": gettext_lazy("The signing key or passkey is not (or no longer) approved."),
    "officer_not_active": gettext_lazy(
        "The officer's account is not active, not yet vetted, or has no agency."
    ),
    "agency_not_verified": gettext_lazy(
        "The officer's agency is not verified: pending, suspended or rejected."
    ),
    "wrong_audience": gettext_lazy("The signed payload names another portal."),
    "stale": gettext_lazy("The payload was signed more than 5 minutes from the portal's clock."),
    "replay": gettext_lazy(
        "The nonce was already used by an accepted request, and this is not a retry of it."
    ),
    "attachment_mismatch": gettext_lazy(
        "A document is missing, extra, or differs from what the payload declares."
    ),
    "policy_violation": gettext_lazy("The jurisdiction's policy refuses this request."),
    "too_large": gettext_lazy("The submission or its documents exceed the size or number limits."),
    "rate_limited": gettext_lazy(
        "Too many submissions in a short time from this officer, token or address."
    ),
}
REJECTION_CODES = tuple(REJECTION_MEANINGS)

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 366
# A day is compared with the 30 days before it. It is a burst when its signature
# failures reach BURST_FACTOR times that median, and at least BURST_MIN_COUNT: most
# agencies have a median of zero, and one mistyped key id is not an attack.
BASELINE_DAYS = 30
BURST_FACTOR = 3
BURST_MIN_COUNT = 5

PAGE_SIZE = 50
# Deep pages cost the database more with every page; past this, narrow the filters.
MAX_PAGES = 20
TOP_AGENCIES = 25
TOP_ADDRESSES = 10

NO_AGENCY = "none"


def _require_vetting_admin(user: User) -> None:
    """Refuse anyone but a vetting administrator; the views check this too."""
    if not user.is_authenticated or user.role != Role.VETTING_ADMIN:
        raise PermissionDenied


# --- Intake rejections ----------------------------------------------------------------


@dataclass(frozen=True)
class RejectionFilters:
    """Which rejections to count: a range of whole UTC days and optional narrowing."""

    date_from: date
    date_to: date
    code: str = ""
    agency: str = ""  # an agency id, NO_AGENCY for senders not recognised, or "" for all
    channel: str = ""
    ip: str = ""

    @classmethod
    def default(cls, today: date) -> "RejectionFilters":
        return cls(date_from=today - timedelta(days=DEFAULT_DAYS - 1), date_to=today)

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _narrowed(filters: RejectionFilters) -> QuerySet[IntakeRejection]:
    """Rejections matching every filter but the date range."""
    queryset = IntakeRejection.objects.all()
    if filters.code:
        queryset = queryset.filter(code=filters.code)
    if filters.agency == NO_AGENCY:
        queryset = queryset.filter(agency__isnull=True)
    elif filters.agency:
        queryset = queryset.filter(agency_id=int(filters.agency))
    if filters.channel:
        queryset = queryset.filter(channel=filters.channel)
    if filters.ip:
        queryset = queryset.filter(ip=filters.ip)
    return queryset


def _between(queryset: QuerySet[IntakeRejection], first: date, last: date):
    return queryset.filter(at__gte=_day_start(first), at__lt=_day_start(last + timedelta(days=1)))


@dataclass(frozen=True)
class CodeCount:
    code: str
    count: int
    share: float  # percent of the rejections shown


@dataclass(frozen=True)
class AgencyCount:
    agency_id: int | None
    name: str
    country: str
    count: int
    signature_failures: int

    @property
    def filter_value(self) -> str:
        return str(self.agency_id) if self.agency_id is not None else NO_AGENCY


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int
    signature_failures: int
    baseline: float  # median signature failures per day over the 30 days before
    burst: bool


@dataclass(frozen=True)
class Burst:
    day: date
    agency_id: int | None
    name: str
    signature_failures: int
    baseline: float

    @property
    def filter_value(self) -> str:
        return str(self.agency_id) if self.agency_id is not None else NO_AGENCY


@dataclass(frozen=True)
class AddressCount:
    ip: str | None
    count: int
    signature_failures: int
    agencies: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class RejectionPage:
    entries: list[IntakeRejection]
    number: int
    has_previous: bool
    has_next: bool
    capped: bool  # more entries match than the pages can list


@dataclass(frozen=True)
class RejectionOverview:
    filters: RejectionFilters
    total: int
    by_code: list[CodeCount]
    by_agency: list[AgencyCount]
    more_agencies: bool  # more agencies had rejections than the table lists
    by_day: list[DayCount]
    bursts: list[Burst]
    addresses: list[AddressCount]
    page: RejectionPage
    signature_failures: int


def is_burst(count: int, baseline: float) -> bool:
    """Whether a day's signature failures stand far above the usual (see BURST_*)."""
    return count >= BURST_MIN_COUNT and count >= BURST_FACTOR * baseline


def _baseline(counts: dict[date, int], day: date) -> float:
    before = [counts.get(day - timedelta(days=n), 0) for n in range(1, BASELINE_DAYS + 1)]
    return float(median(before))


def _signature_failures(
    filters: RejectionFilters,
) -> dict[int | None, dict[date, int]]:
    """Signature failures per agency and day, over the range and the 30 days before it."""
    queryset = _between(
        _narrowed(filters).filter(code__in=SIGNATURE_CODES),
        filters.date_from - timedelta(days=BASELINE_DAYS),
        filters.date_to,
    )
    rows = (
        queryset.annotate(day=TruncDate("at"))
        .values("agency_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    found: dict[int | None, dict[date, int]] = defaultdict(dict)
    for row in rows:
        found[row["agency_id"]][row["day"]] = row["n"]
    return found


def _agency_names(ids: set[int]) -> dict[int, Agency]:
    if not ids:
        return {}
    return {a.pk: a for a in Agency.objects.filter(pk__in=ids).only("pk", "name", "country")}


def _days(filters: RejectionFilters) -> list[date]:
    """The days of the range, newest first."""
    return [filters.date_to - timedelta(days=n) for n in range(filters.days)]


def rejection_overview(
    *, user: User, filters: RejectionFilters, page: int = 1
) -> RejectionOverview:
    """Count the rejections matching ``filters`` by code, agency, day and address.

    Also lists one page of the newest entries, and the bursts: a day on which one
    agency's (or unrecognised senders') signature failures stand far above their median
    of the 30 days before.
    """
    _require_vetting_admin(user)
    shown = _between(_narrowed(filters), filters.date_from, filters.date_to)
    signature = Q(code__in=SIGNATURE_CODES)

    by_code_rows = list(shown.values("code").annotate(n=Count("id")).order_by("-n", "code"))
    total = sum(row["n"] for row in by_code_rows)
    by_code = [
        CodeCount(row["code"], row["n"], round(100 * row["n"] / total, 1)) for row in by_code_rows
    ]

    agency_rows = list(
        shown.values("agency_id", "agency__name", "agency__country")
        .annotate(n=Count("id"), sig=Count("id", filter=signature))
        .order_by("-n", "agency__name", "agency_id")[: TOP_AGENCIES + 1]
    )
    by_agency = [
        AgencyCount(
            agency_id=row["agency_id"],
            name=row["agency__name"] or gettext("Sender not recognised"),
            country=row["agency__country"] or "",
            count=row["n"],
            signature_failures=row["sig"],
        )
        for row in agency_rows[:TOP_AGENCIES]
    ]

    day_rows = {
        row["day"]: row["n"]
        for row in shown.annotate(day=TruncDate("at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    }

    per_agency = _signature_failures(filters)
    per_day: dict[date, int] = defaultdict(int)
    for counts in per_agency.values():
        for day, n in counts.items():
            per_day[day] += n
    by_day = []
    for day in _days(filters):
        failures = per_day.get(day, 0)
        baseline = _baseline(per_day, day)
        by_day.append(
            DayCount(
                day=day,
                count=day_rows.get(day, 0),
                signature_failures=failures,
                baseline=baseline,
                burst=is_burst(failures, baseline),
            )
        )

    flagged: list[tuple[date, int | None, int, float]] = []
    for agency_id, counts in per_agency.items():
        for day, n in counts.items():
            if filters.date_from <= day <= filters.date_to:
                baseline = _baseline(counts, day)
                if is_burst(n, baseline):
                    flagged.append((day, agency_id, n, baseline))
    names = _agency_names({agency_id for _, agency_id, _, _ in flagged if agency_id is not None})
    bursts = sorted(
        (
            Burst(
                day=day,
                agency_id=agency_id,
                name=names[agency_id].name
                if agency_id in names
                else gettext("Sender not recognised"),
                signature_failures=n,
                baseline=baseline,
            )
            for day, agency_id, n, baseline in flagged
        ),
        key=lambda b: (b.day, b.signature_failures),
        reverse=True,
    )

    addresses = [
        AddressCount(
            ip=row["ip"],
            count=row["n"],
            signature_failures=row["sig"],
            agencies=row["agencies"],
            first_at=row["first"],
            last_at=row["last"],
        )
        for row in shown.values("ip")
        .annotate(
            n=Count("id"),
            sig=Count("id", filter=signature),
            agencies=Count("agency", distinct=True),
            first=Min("at"),
            last=Max("at"),
        )
        .order_by("-n", "ip")[:TOP_ADDRESSES]
    ]

    number = min(max(page, 1), MAX_PAGES)
    offset = (number - 1) * PAGE_SIZE
    rows = list(
        shown.select_related("agency", "officer__user").order_by("-at", "-id")[
            offset : offset + PAGE_SIZE + 1
        ]
    )
    page_view = RejectionPage(
        entries=rows[:PAGE_SIZE],
        number=number,
        has_previous=number > 1,
        has_next=len(rows) > PAGE_SIZE and number < MAX_PAGES,
        capped=len(rows) > PAGE_SIZE and number == MAX_PAGES,
    )

    return RejectionOverview(
        filters=filters,
        total=total,
        by_code=by_code,
        by_agency=by_agency,
        more_agencies=len(agency_rows) > TOP_AGENCIES,
        by_day=by_day,
        bursts=bursts,
        addresses=addresses,
        page=page_view,
        signature_failures=sum(row.signature_failures for row in by_day),
    )


def rejection_agency_choices(*, user: User) -> list[tuple[str, str]]:
    """The agencies an administrator may filter by, by name (one query)."""
    _require_vetting_admin(user)
    return [
        (str(pk), f"{name} ({country})")
        for pk, name, country in Agency.objects.order_by("name", "pk").values_list(
            "pk", "name", "country"
        )
    ]
