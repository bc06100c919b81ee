"""What intake records besides the request: every refused submission, and the officers'
unsigned drafts."""

from django.db import models
from django.utils import timezone

from accounts.models import Agency, Officer
from requests_app.lifecycle.models import Channel, RequestKind


class IntakeRejection(models.Model):
    """A submission that intake refused: who, which channel, which rule, a body hash.

    Nothing of the body is kept but its hash: a forged request must not become data.
    ``detail`` is the refusal as the submitter read it, in ``language`` (the language the
    refusal was answered in; blank on rows logged before it was recorded).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    code = models.CharField(max_length=40, db_index=True)
    status = models.PositiveSmallIntegerField()
    detail = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=10, blank=True, default="")
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


class SubmissionDraft(models.Model):
    """A request an officer saved without signing it, to finish later.

    Only its author sees it (``intake.drafts``): another officer gets 404. It holds the
    form's fields as typed, unchecked: a draft is checked, like every request, when it is
    previewed and again when the signed submission arrives. Its documents are stored like
    a request's, as age ciphertext to the portal's storage key (``DraftDocument``).
    """

    officer = models.ForeignKey(Officer, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=RequestKind.choices)
    # The form's fields by name: text, or a list of texts for a multiple choice.
    fields = models.JSONField(default=dict)
    # The reference of the officer's request it was copied from, if any.
    copied_from = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["officer", "-updated_at"], name="draft_officer_recent")]

    def __str__(self) -> str:
        return f"draft {self.pk} of officer {self.officer_id}"

    @property
    def case_reference(self) -> str:
        value = self.fields.get("case_reference", "")
        return value if isinstance(value, str) else ""


class DraftDocument(models.Model):
    """A document chosen for a draft, stored only as age ciphertext to the storage key."""

    draft = models.ForeignKey(SubmissionDraft, on_delete=models.CASCADE, related_name="documents")
    filename = models.CharField(max_length=200)
    media_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="drafts/", max_length=300)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
