"""The platform's review of a request.

The checklist, decisions, emergency callbacks and user notices.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from requests_app.lifecycle.models import DecisionOutcome, LegalRequest


class AssessmentItem(models.TextChoices):
    LEGAL_BASIS = "legal_basis", _("Legal basis valid for the jurisdiction")
    AUTHORITY_COMPETENT = "authority_competent", _("Issuing authority competent")
    TARGETS_IDENTIFIABLE = "targets_identifiable", _("Targets identifiable")
    SCOPE_PROPORTIONATE = "scope_proportionate", _("Scope proportionate")
    NO_ABUSE = "no_abuse", _("No sign of political persecution or abuse")


class Assessment(models.Model):
    """A reviewer's checklist for a request: each item judged, with a note."""

    request = models.OneToOneField(
        LegalRequest, on_delete=models.CASCADE, related_name="assessment"
    )
    items = models.JSONField(default=dict)  # item -> {"ok": bool, "note": str}
    updated_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"assessment of {self.request_id}"

    @property
    def complete(self) -> bool:
        return all(
            isinstance(self.items.get(item), dict) and self.items[item].get("ok") is not None
            for item in AssessmentItem.values
        )

    @property
    def all_ok(self) -> bool:
        return self.complete and all(self.items[item]["ok"] for item in AssessmentItem.values)


class RejectionReason(models.TextChoices):
    INCOMPLETE = "incomplete", _("Incomplete")
    MANIFEST_ERRORS = "manifest_errors", _("Manifest errors")
    INSUFFICIENT_INFORMATION = "insufficient_information", _("Insufficient information")
    DATA_NOT_STORED = "data_not_stored", _("Data not stored")
    IMPOSSIBLE_NOT_ATTRIBUTABLE = (
        "impossible_not_attributable",
        _("Impossibility not attributable to the platform"),
    )
    AUTHORITY_NOT_COMPETENT = (
        "authority_not_competent",
        _("Not issued or validated by a competent authority"),
    )
    NOT_PROPORTIONATE = "not_proportionate", _("Not necessary or proportionate")
    FUNDAMENTAL_RIGHTS = "fundamental_rights", _("Manifest breach of fundamental rights")
    NO_ACCOUNT = "no_account", _("No account matches the targets")


class Decision(models.Model):
    """A reviewer's decision. An approval takes effect only once a second reviewer confirms."""

    Outcome = DecisionOutcome

    class State(models.TextChoices):
        PROPOSED = "proposed", _("Waiting for a second reviewer")
        CONFIRMED = "confirmed", _("Confirmed")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        OVERRULED = "overruled", _("Not confirmed by the second reviewer")

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    confirmed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The approved scope: never wider than what was asked (checked by the service).
    approved_target_ids = models.JSONField(default=list)
    approved_categories = models.JSONField(default=list)
    approved_period_from = models.DateField(null=True, blank=True)
    approved_period_to = models.DateField(null=True, blank=True)
    reason_code = models.CharField(max_length=40, choices=RejectionReason.choices, blank=True)
    message_to_authority = models.TextField(blank=True)
    internal_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at"]

    def __str__(self) -> str:
        return f"{self.outcome} ({self.state}) on {self.request_id}"


class EmergencyCallback(models.Model):
    """A call to the agency's number on file confirming an emergency request."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed genuine")
        NOT_CONFIRMED = "not_confirmed", _("Not confirmed")
        NO_ANSWER = "no_answer", _("No answer")

    request = models.ForeignKey(
        LegalRequest, on_delete=models.CASCADE, related_name="emergency_callbacks"
    )
    number_called = models.CharField(max_length=32)  # copied from the agency record
    called_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    called_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-called_at"]

    def __str__(self) -> str:
        return f"{self.number_called} {self.outcome}"


class UserNotice(models.Model):
    """A request whose affected users the platform may now tell (no order, or it lapsed)."""

    class State(models.TextChoices):
        DUE = "due", _("Notice due")
        DONE = "done", _("Users notified")
        WAIVED = "waived", _("Not notified (recorded reason)")

    request = models.OneToOneField(LegalRequest, on_delete=models.CASCADE, related_name="notice")
    due_since = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DUE)
    handled_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"notice for {self.request_id}: {self.state}"


class OnCallReviewer(models.Model):
    """A reviewer on the on-call list: told when an emergency waits unclaimed.

    Kept by the vetting administrators on the staff page (``review/escalation.py``); every
    addition and removal is audited.
    """

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "pk"]

    def __str__(self) -> str:
        return f"on call: {self.user_id}"
