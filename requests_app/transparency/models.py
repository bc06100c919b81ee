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
