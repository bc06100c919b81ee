"""What intake records besides the request: every refused submission."""

from django.db import models
from django.utils import timezone

from accounts.models import Agency, Officer
from requests_app.lifecycle.models import Channel


class IntakeRejection(models.Model):
    """A submission that intake refused: who, which channel, which rule, a body hash.

    Nothing of the body is kept but its hash: a forged request must not become data.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code = models.CharField(max_length=40, db_index=True)
    status = models.PositiveSmallIntegerField()
    detail = models.CharField(max_length=300, blank=True)
    officer = models.ForeignKey(
        Officer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    key_id = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    body_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["code", "at"]), models.Index(fields=["agency", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.code}"
