"""The legal request itself, shared by every stage.

Its kinds and vocabulary, its targets and documents, its review state and its message
thread, and the colleagues it is shared with.
"""

from datetime import UTC

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from accounts.models import Agency, Officer, SigningKey


class RequestKind(models.TextChoices):
    # Translators: a request that the platform keep (freeze) existing data until legal
    # process for disclosure arrives; nothing is disclosed by it.
    PRESERVATION = "preservation", _("Preservation")
    # Translators: basic data identifying the holder of an account (name, registration
    # details), the legal category of the same name.
    SUBSCRIBER_DATA = "subscriber_data", _("Subscriber data")
    # Translators: an order of a judge compelling the platform to disclose data.
    COURT_ORDER = "court_order", _("Court order")
    SEARCH_WARRANT = "search_warrant", _("Search warrant")
    EU_EPOC = "eu_epoc", _("European Production Order (EPOC)")
    # Translators: an emergency disclosure request, made when a life is in danger and
    # answered before ordinary legal process.
    EMERGENCY = "emergency", _("Emergency")


class DataCategory(models.TextChoices):
    SUBSCRIBER_INFO = "subscriber_info", _("Subscriber information (name, registration)")
    PHONE_NUMBER = "phone_number", _("Phone number")
    EMAIL_ADDRESS = "email_address", _("Email address")
    IP_ADDRESSES = "ip_addresses", _("IP addresses with timestamps")
    LOGIN_HISTORY = "login_history", _("Login history")
    DEVICE_INFO = "device_info", _("Device information")


class Offence(models.TextChoices):
    CHILD_SEXUAL_ABUSE = "child_sexual_abuse", _("Child sexual abuse")
    TERRORISM = "terrorism", _("Terrorism")
    HOMICIDE = "homicide", _("Homicide")
    KIDNAPPING = "kidnapping", _("Kidnapping")
    THREATS = "threats", _("Threats to life or safety")
    HUMAN_TRAFFICKING = "human_trafficking", _("Human trafficking")
    DRUG_TRAFFICKING = "drug_trafficking", _("Drug trafficking")
    FRAUD = "fraud", _("Fraud")
    EXTORTION = "extortion", _("Extortion")
    MONEY_LAUNDERING = "money_laundering", _("Money laundering")
    CYBERCRIME = "cybercrime", _("Cybercrime")
    OTHER_SERIOUS = "other_serious", _("Other serious crime")


class TargetType(models.TextChoices):
    USERNAME = "username", _("Username")
    PHONE = "phone", _("Phone number")
    USER_ID = "user_id", _("User id")
    CHANNEL = "channel", _("Channel")
    EMAIL = "email", _("Email address")
    IP_ADDRESS = "ip_address", _("IP address")
    URL = "url", _("Platform URL")


class DecisionOutcome(models.TextChoices):
    """What a decision on a request may be (`review.models.Decision.Outcome`)."""

    APPROVE_FULL = "approve_full", _("Approve in full")
    APPROVE_PARTIAL = "approve_partial", _("Approve in part")
    REJECT = "reject", _("Reject")


class Channel(models.TextChoices):
    API = "api", _("API (signed with an Ed25519 key)")
    WEB = "web", _("Web (confirmed with a passkey)")


# The queue's order (most urgent first) and the states that are open work for reviewers.
QUEUE_ORDER = ["-emergency", "due_at", "id"]
OPEN_WORK = models.Q(status__in=["received", "in_review", "awaiting_clarification", "approved"])
PAUSED_LATE = models.Q(status="awaiting_clarification", paused_late=True)
APPROVED_PRESERVATION = models.Q(status="approved", kind="preservation")


class LegalRequest(models.Model):
    """A properly formed, signed request that passed intake."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_REVIEW = "in_review", _("In review")
        AWAITING_CLARIFICATION = "awaiting_clarification", _("Awaiting clarification")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        DISCLOSED = "disclosed", _("Disclosed")
        CLOSED = "closed", _("Closed")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    reference = models.CharField(max_length=32, unique=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="requests")
    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="requests")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=30, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    kind = models.CharField(max_length=30, choices=RequestKind.choices, db_index=True)
    emergency = models.BooleanField(default=False, db_index=True)
    country = CountryField(db_index=True)
    case_reference = models.CharField(max_length=120)
    offence = models.CharField(max_length=40, choices=Offence.choices)
    data_categories = models.JSONField(default=list)
    period_from = models.DateField(null=True, blank=True)
    period_to = models.DateField(null=True, blank=True)

    # Provenance: exactly what was signed and how it was checked.
    payload = models.JSONField()
    payload_sha256 = models.CharField(max_length=64)
    envelope_sha256 = models.CharField(max_length=64)
    signature = models.JSONField()
    key_id = models.CharField(max_length=200)
    signing_key = models.ForeignKey(
        SigningKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The public key that verified the signature, copied as it was: an Ed25519 PEM (API) or
    # the passkey's COSE key in base64url (web). The signature stays checkable after the
    # officer removes that passkey or key.
    verification_key = models.TextField(blank=True)
    # The nonce is unique across every request ever accepted: the database refuses a
    # replay even when two submissions race.
    nonce = models.CharField(max_length=200, unique=True)
    signed_at = models.DateTimeField()
    signature_verified_at = models.DateTimeField()
    received_at = models.DateTimeField(db_index=True)
    due_at = models.DateTimeField(db_index=True)
    receipt = models.JSONField()
    # Asked for clarification after its deadline had passed: while it awaits the answer it
    # is overdue work (``lifecycle.clocks``). Recorded when the question is asked (with the
    # review row's ``paused_since``) and cleared when the clock restarts
    # (``review.services``). Kept beside the status, so that one partial index holds
    # exactly the late paused requests and their count reads nothing else.
    paused_late = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-emergency", "due_at"]
        indexes = [
            models.Index(fields=["agency", "-received_at"]),
            # The review queue (requests_app/review/selectors.py; measured by
            # bench/review_queue.py): most urgent first within a state, and the open work
            # alone by each filter, so a page reads a few index entries at any table size.
            models.Index(fields=["status", *QUEUE_ORDER], name="lr_queue_status"),
            models.Index(fields=QUEUE_ORDER, name="lr_queue_open", condition=OPEN_WORK),
            models.Index(
                fields=["kind", *QUEUE_ORDER], name="lr_queue_open_kind", condition=OPEN_WORK
            ),
            models.Index(
                fields=["country", *QUEUE_ORDER], name="lr_queue_open_country", condition=OPEN_WORK
            ),
            models.Index(
                fields=["agency", *QUEUE_ORDER], name="lr_queue_open_agency", condition=OPEN_WORK
            ),
            models.Index(
                fields=["-received_at", "-id"], name="lr_queue_open_recv", condition=OPEN_WORK
            ),
            # Two branches of the overdue count (``clocks.overdue_q_by_state``): the late
            # paused requests, and the approved preservations by deadline.
            models.Index(fields=["id"], name="lr_overdue_paused", condition=PAUSED_LATE),
            models.Index(
                fields=["due_at"], name="lr_approved_preservation", condition=APPROVED_PRESERVATION
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class RequestTarget(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="targets")
    type = models.CharField(max_length=20, choices=TargetType.choices)
    value = models.CharField(max_length=200)
    # An IP address names an account only together with a time: the window in which it was
    # used (PROTOCOL §2.2). Both ends are set for an ``ip_address`` target, and only there.
    window_from = models.DateTimeField(null=True, blank=True)
    window_to = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        # The reviewers' search by a target's value (``review.selectors``): an email
        # address whatever its case, any other value exactly, both through this index.
        indexes = [models.Index(Lower("value"), name="request_target_value_lower")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(type="ip_address", window_from__isnull=False, window_to__isnull=False)
                    | (
                        ~models.Q(type="ip_address")
                        & models.Q(window_from__isnull=True, window_to__isnull=True)
                    )
                ),
                name="request_target_window_only_for_ip",
            )
        ]

    def __str__(self) -> str:
        if self.window_from and self.window_to:
            start, end = (moment.astimezone(UTC) for moment in (self.window_from, self.window_to))
            return (
                f"{self.type}:{self.value} [{start:%Y-%m-%dT%H:%M:%SZ}, {end:%Y-%m-%dT%H:%M:%SZ}]"
            )
        return f"{self.type}:{self.value}"


class Attachment(models.Model):
    """A legal document sent with a request, stored under its SHA-256."""

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    media_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="attachments/", max_length=300)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class ReviewState(models.Model):
    """The reviewers' working state of a request: who has it, and the legal clock.

    One row per request, made when review first touches it (``review.services.review_state``).
    Kept apart from ``LegalRequest`` so that what intake verified (the signed payload and
    its provenance) is never rewritten by review.
    """

    request = models.OneToOneField(LegalRequest, on_delete=models.CASCADE, related_name="review")
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # The deadline clock stops while the platform waits for the authority's answer.
    paused_since = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveBigIntegerField(default=0)
    preservation_expires_at = models.DateTimeField(null=True, blank=True)
    preservation_extended = models.BooleanField(default=False)
    non_disclosure_until = models.DateField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["assignee"]),
            models.Index(fields=["request", "assignee"], name="review_request_assignee"),
        ]

    def __str__(self) -> str:
        return f"review of {self.request_id}"


class Message(models.Model):
    """One message of the clarification thread between reviewers and the authority.

    An authority's reply with documents is signed like a submission (PROTOCOL §4.5): its
    provenance is kept as intake keeps a request's, so the signature stays checkable.
    Every other message has none of it (the fields are empty).
    """

    class Side(models.TextChoices):
        PLATFORM = "platform", _("Platform")
        AUTHORITY = "authority", _("Authority")

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="messages")
    side = models.CharField(max_length=12, choices=Side.choices)
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    # Provenance of a signed reply: exactly what was signed and how it was checked.
    payload = models.JSONField(null=True, blank=True)
    payload_sha256 = models.CharField(max_length=64, blank=True)
    envelope_sha256 = models.CharField(max_length=64, blank=True)
    signature = models.JSONField(null=True, blank=True)
    key_id = models.CharField(max_length=200, blank=True)
    verification_key = models.TextField(blank=True)
    # Single use, like a request's; the look-up for replays reads both tables.
    nonce = models.CharField(max_length=200, null=True, blank=True, unique=True)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.side} message on {self.request_id}"


class MessageAttachment(models.Model):
    """A document sent with a signed reply, stored as age ciphertext like an ``Attachment``."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="documents")
    filename = models.CharField(max_length=200)
    media_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="message-documents/", max_length=300)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename


class RequestShare(models.Model):
    """An officer shares one request with a colleague of the same agency (read and reply)."""

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="shares")
    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="shared_requests")
    granted_by = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["request", "officer"],
                condition=models.Q(revoked_at__isnull=True),
                name="request_share_one_live",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} shared with {self.officer_id}"
