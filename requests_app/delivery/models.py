"""What a confirmed decision hands to delivery, and the sealed response it becomes."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from requests_app.lifecycle.models import LegalRequest


class Disclosure(models.Model):
    """The hand-over of an approved scope to delivery (sealing happens in a task).

    Holds the scope, never the records: the plaintext is fetched from the data source
    while sealing and exists only inside the sealed file.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sealed")
        SEALED = "sealed", _("Sealed")
        FAILED = "failed", _("Sealing failed")

    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT, related_name="disclosures")
    decision = models.OneToOneField(
        "requests_app.Decision", on_delete=models.PROTECT, related_name="disclosure"
    )
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    note_to_authority = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"disclosure {self.pk} of {self.request_id}"


class SealedResponse(models.Model):
    """The age-encrypted answer to a request: the only form in which disclosed data is kept.

    One per disclosure (a unique constraint), so a sealing task that runs twice stores one.
    """

    disclosure = models.OneToOneField(
        Disclosure, on_delete=models.PROTECT, related_name="sealed_response"
    )
    request = models.ForeignKey(
        LegalRequest, on_delete=models.PROTECT, related_name="sealed_responses"
    )
    file = models.FileField(upload_to="sealed/", max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    recipients = models.JSONField(default=list)  # the age1... strings it was sealed to
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"sealed response {self.pk} of {self.request_id}"

    @property
    def available(self) -> bool:
        return self.purged_at is None and self.expires_at > timezone.now()
