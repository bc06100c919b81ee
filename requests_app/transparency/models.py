"""Published figures, and the reviewer teams that deadline compliance is grouped by."""

from typing import Any

from django.conf import settings
from django.db import models

from requests_app.transparency.periods import Period, PeriodKind


class SnapshotChanged(Exception):
    """A published snapshot was about to be changed in place: publish a correction."""


class Snapshot(models.Model):
    """The figures of one period exactly as they were published; never changed afterwards.

    A correction is a new row that ``supersedes`` the one before it, with a reason: the
    public page shows the newest row of a period and says that, when and why it was
    corrected, and every earlier version stays downloadable. ``document`` holds the
    public figures only (after small-number suppression), never anything about a case.
    PostgreSQL refuses UPDATE and DELETE on this table (migration 0002).
    """

    period_key = models.CharField(max_length=32)
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    first_day = models.DateField()
    last_day = models.DateField()
    document = models.JSONField()
    document_sha256 = models.CharField(max_length=64)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-first_day", "period_kind", "-published_at"]
        indexes = [
            models.Index(fields=["period_key", "-published_at"], name="snapshot_period_newest")
        ]
        constraints = [
            # The first version of a period is the only one that supersedes nothing; two
            # first publications racing each other cannot both be stored.
            models.UniqueConstraint(
                fields=["period_key"],
                condition=models.Q(supersedes__isnull=True),
                name="snapshot_one_first_version",
            ),
            models.CheckConstraint(
                condition=models.Q(supersedes__isnull=True) | ~models.Q(correction_reason=""),
                name="snapshot_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_key} v{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise SnapshotChanged("A published snapshot is never changed: publish a correction.")
        super().save(*args, **kwargs)

    @property
    def period(self) -> Period:
        return Period(self.first_day, self.last_day, self.period_kind)

    @property
    def is_correction(self) -> bool:
        return self.supersedes_id is not None


class ReviewTeam(models.Model):
    """A group of reviewers whose deadline compliance the staff dashboard shows together.

    Membership is as it stands now: a request counts for the team its assignee belongs
    to today, not when it was decided.
    """

    name = models.CharField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReviewTeamMember(models.Model):
    """A reviewer's team: at most one each."""

    team = models.ForeignKey(ReviewTeam, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_team_membership"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__full_name"]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}"


# --- Rollups: the report's figures kept up to date as requests change (rollups.py) ----------
#
# Triggers (migration 0005) mark every legal request whose row, review, targets, decisions
# or disclosures change, and every month whose intake rejections change; ``rollups.fold``
# turns the marks into the rows below. None of them is a source of truth: they can be
# rebuilt from the requests at any time (``rollups.rebuild``).


class PendingRequest(models.Model):
    """A legal request whose figures changed since the last fold (written by triggers)."""

    request_id = models.BigIntegerField(db_index=True)

    def __str__(self) -> str:
        return f"request {self.request_id} pending"


class PendingRejectionMonth(models.Model):
    """A month (``year * 12 + month - 1``, UTC) whose intake rejections changed."""

    month = models.IntegerField()

    def __str__(self) -> str:
        return f"rejections of month {self.month} pending"


class RequestFact(models.Model):
    """What the report counts of one legal request, as of the last fold."""

    request_id = models.BigIntegerField(primary_key=True)
    month = models.IntegerField()  # year * 12 + month - 1 of received_at (UTC)
    received_at = models.DateTimeField()
    country = models.CharField(max_length=2)
    emergency = models.BooleanField()
    preservation = models.BooleanField()
    answered = models.BooleanField()
    answered_within_deadline = models.BooleanField()
    clock_running = models.BooleanField()
    due_at = models.DateTimeField()
    disclosed = models.BooleanField()
    seconds_to_answer = models.FloatField(null=True)
    # seconds_to_answer in coarse steps (rollups.BUCKET_SECONDS); orders like it.
    bucket = models.IntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["month", "country"], name="report_fact_month"),
            # Key columns rather than INCLUDE (which SQLite lacks): index-only either way.
            models.Index(
                fields=["received_at", "country", "due_at"],
                condition=models.Q(clock_running=True),
                name="report_fact_running",
            ),
            models.Index(
                fields=["bucket", "month", "country", "seconds_to_answer"],
                condition=models.Q(bucket__isnull=False),
                name="report_fact_bucket",
            ),
            models.Index(fields=["country", "month"], name="report_fact_country"),
        ]

    def __str__(self) -> str:
        return f"facts of request {self.request_id}"


class AccountFact(models.Model):
    """An account a sealed disclosure of a request named (``type:lower(value)``)."""

    request_id = models.BigIntegerField(db_index=True)
    month = models.IntegerField()
    country = models.CharField(max_length=2)
    account = models.TextField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["country", "month"], name="report_account_country")]

    def __str__(self) -> str:
        return f"{self.account} in request {self.request_id}"


class MonthlyCounts(models.Model):
    """The additive figures of one country's requests received in one month."""

    month = models.IntegerField()
    country = models.CharField(max_length=2)
    properly_formed = models.IntegerField()
    emergency = models.IntegerField()
    preservation = models.IntegerField()
    answered = models.IntegerField()
    answered_within_deadline = models.IntegerField()
    with_data_disclosed = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "country"], name="report_counts_cell")
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.month}"


class MonthlyAnswerTimes(models.Model):
    """How many of a country's requests of a month were answered within each bucket."""

    month = models.IntegerField()
    country = models.CharField(max_length=2)
    bucket = models.IntegerField()
    answered = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "country", "bucket"], name="report_times_cell")
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.month} bucket {self.bucket}"


class AccountFirstSeen(models.Model):
    """Accounts disclosed in ``month`` whose previous disclosure (in ``scope``) was in
    ``previous`` (-1: none before): the distinct accounts of months m0..m1 are those with
    ``previous < m0``. ``scope`` is a country or ``*`` (the world)."""

    scope = models.CharField(max_length=2)
    month = models.IntegerField()
    previous = models.IntegerField()
    accounts = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "month", "previous"], name="report_first_seen_cell"
            )
        ]
        indexes = [
            models.Index(
                fields=["month", "previous", "scope", "accounts"], name="report_first_seen"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.month} after {self.previous}"


class MonthlyRejections(models.Model):
    """Intake rejections of one month by agency (0: sender not recognised)."""

    month = models.IntegerField()
    agency_id = models.BigIntegerField()
    rejections = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "agency_id"], name="report_rejections_cell")
        ]

    def __str__(self) -> str:
        return f"agency {self.agency_id} {self.month}"
