"""Legal requests and everything the intake gateway records about them."""

from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from accounts.models import Agency, Officer, SigningKey


class RequestKind(models.TextChoices):
    PRESERVATION = "preservation", "Preservation"
    SUBSCRIBER_DATA = "subscriber_data", "Subscriber data"
    COURT_ORDER = "court_order", "Court order"
    SEARCH_WARRANT = "search_warrant", "Search warrant"
    EU_EPOC = "eu_epoc", "European Production Order (EPOC)"
    EMERGENCY = "emergency", "Emergency"


class DataCategory(models.TextChoices):
    SUBSCRIBER_INFO = "subscriber_info", "Subscriber information (name, registration)"
    PHONE_NUMBER = "phone_number", "Phone number"
    EMAIL_ADDRESS = "email_address", "Email address"
    IP_ADDRESSES = "ip_addresses", "IP addresses with timestamps"
    LOGIN_HISTORY = "login_history", "Login history"
    DEVICE_INFO = "device_info", "Device information"


class Offence(models.TextChoices):
    CHILD_SEXUAL_ABUSE = "child_sexual_abuse", "Child sexual abuse"
    TERRORISM = "terrorism", "Terrorism"
    HOMICIDE = "homicide", "Homicide"
    KIDNAPPING = "kidnapping", "Kidnapping"
    THREATS = "threats", "Threats to life or safety"
    HUMAN_TRAFFICKING = "human_trafficking", "Human trafficking"
    DRUG_TRAFFICKING = "drug_trafficking", "Drug trafficking"
    FRAUD = "fraud", "Fraud"
    EXTORTION = "extortion", "Extortion"
    MONEY_LAUNDERING = "money_laundering", "Money laundering"
    CYBERCRIME = "cybercrime", "Cybercrime"
    OTHER_SERIOUS = "other_serious", "Other serious crime"


class TargetType(models.TextChoices):
    USERNAME = "username", "Username"
    PHONE = "phone", "Phone number"
    USER_ID = "user_id", "User id"
    CHANNEL = "channel", "Channel"


class Channel(models.TextChoices):
    API = "api", "API (signed with an Ed25519 key)"
    WEB = "web", "Web (confirmed with a passkey)"


class PolicyRule(models.Model):
    """What a country's authorities may ask for with one request kind.

    ``country`` blank is the default for every country without a rule of its own.
    """

    country = CountryField(blank=True)
    kind = models.CharField(max_length=30, choices=RequestKind.choices)
    allowed = models.BooleanField(default=True)
    disclosable_categories = models.JSONField(default=list)
    document_required = models.BooleanField(default=True)
    deadline_hours = models.PositiveIntegerField()
    max_period_days = models.PositiveIntegerField(
        default=366, help_text="The longest period a request of this kind may cover."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["country", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["country", "kind"], name="policy_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.country or 'default'} {self.kind}"


# The queue's order (most urgent first) and the states that are open work for reviewers.
QUEUE_ORDER = ["-emergency", "due_at", "id"]
OPEN_WORK = models.Q(status__in=["received", "in_review", "awaiting_clarification", "approved"])


class LegalRequest(models.Model):
    """A properly formed, signed request that passed intake."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        IN_REVIEW = "in_review", "In review"
        AWAITING_CLARIFICATION = "awaiting_clarification", "Awaiting clarification"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        DISCLOSED = "disclosed", "Disclosed"
        CLOSED = "closed", "Closed"
        WITHDRAWN = "withdrawn", "Withdrawn"

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
        ]

    def __str__(self) -> str:
        return self.reference


class RequestTarget(models.Model):
    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="targets")
    type = models.CharField(max_length=20, choices=TargetType.choices)
    value = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
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


# --- Review --------------------------------------------------------------------------------


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


class AssessmentItem(models.TextChoices):
    LEGAL_BASIS = "legal_basis", "Legal basis valid for the jurisdiction"
    AUTHORITY_COMPETENT = "authority_competent", "Issuing authority competent"
    TARGETS_IDENTIFIABLE = "targets_identifiable", "Targets identifiable"
    SCOPE_PROPORTIONATE = "scope_proportionate", "Scope proportionate"
    NO_ABUSE = "no_abuse", "No sign of political persecution or abuse"


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
    INCOMPLETE = "incomplete", "Incomplete"
    MANIFEST_ERRORS = "manifest_errors", "Manifest errors"
    INSUFFICIENT_INFORMATION = "insufficient_information", "Insufficient information"
    DATA_NOT_STORED = "data_not_stored", "Data not stored"
    IMPOSSIBLE_NOT_ATTRIBUTABLE = (
        "impossible_not_attributable",
        "Impossibility not attributable to the platform",
    )
    AUTHORITY_NOT_COMPETENT = (
        "authority_not_competent",
        "Not issued or validated by a competent authority",
    )
    NOT_PROPORTIONATE = "not_proportionate", "Not necessary or proportionate"
    FUNDAMENTAL_RIGHTS = "fundamental_rights", "Manifest breach of fundamental rights"
    NO_ACCOUNT = "no_account", "No account matches the targets"


class Decision(models.Model):
    """A reviewer's decision. An approval takes effect only once a second reviewer confirms."""

    class Outcome(models.TextChoices):
        APPROVE_FULL = "approve_full", "Approve in full"
        APPROVE_PARTIAL = "approve_partial", "Approve in part"
        REJECT = "reject", "Reject"

    class State(models.TextChoices):
        PROPOSED = "proposed", "Waiting for a second reviewer"
        CONFIRMED = "confirmed", "Confirmed"
        WITHDRAWN = "withdrawn", "Withdrawn"
        OVERRULED = "overruled", "Not confirmed by the second reviewer"

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


class Message(models.Model):
    """One message of the clarification thread between reviewers and the authority."""

    class Side(models.TextChoices):
        PLATFORM = "platform", "Platform"
        AUTHORITY = "authority", "Authority"

    request = models.ForeignKey(LegalRequest, on_delete=models.CASCADE, related_name="messages")
    side = models.CharField(max_length=12, choices=Side.choices)
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.side} message on {self.request_id}"


class EmergencyCallback(models.Model):
    """A call to the agency's number on file confirming an emergency request."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed genuine"
        NOT_CONFIRMED = "not_confirmed", "Not confirmed"
        NO_ANSWER = "no_answer", "No answer"

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


class Disclosure(models.Model):
    """The hand-over of an approved scope to delivery (sealing happens in a task).

    Holds the scope, never the records: the plaintext is fetched from the data source
    while sealing and exists only inside the sealed file.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sealed"
        SEALED = "sealed", "Sealed"
        FAILED = "failed", "Sealing failed"

    request = models.ForeignKey(LegalRequest, on_delete=models.PROTECT, related_name="disclosures")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="disclosure")
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    note_to_authority = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"disclosure {self.pk} of {self.request_id}"


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


class UserNotice(models.Model):
    """A request whose affected users the platform may now tell (no order, or it lapsed)."""

    class State(models.TextChoices):
        DUE = "due", "Notice due"
        DONE = "done", "Users notified"
        WAIVED = "waived", "Not notified (recorded reason)"

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


# --- The platform's directory (the database-backed data source) ----------------------------


class PlatformAccount(models.Model):
    """An account on the platform, as the database-backed data source knows it."""

    user_id = models.CharField(max_length=64, unique=True)
    username = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=32, blank=True, db_index=True)
    registered_at = models.DateTimeField()
    channels = models.JSONField(default=list, blank=True)  # channel names the account owns

    def __str__(self) -> str:
        return self.username


class PlatformIpEvent(models.Model):
    """An IP address an account used, with its time (registration, login or session)."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", "Registration"
        LOGIN = "login", "Login"
        SESSION = "session", "Session"

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="ip_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ip = models.GenericIPAddressField()
    port = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    device = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["account", "at"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.ip} {self.at:%Y-%m-%d %H:%M}"


class PlatformFile(models.Model):
    """A file the platform holds about an account (a profile photo, a log export).

    The directory source's stand-in for the platform's file store: the bytes are in the
    default storage under ``platform/``, with the size and SHA-256 recorded when stored
    (``sources.directory.platform_file_store``). A file without ``at`` is a static fact,
    allowed only in a static category (``sources.base.STATIC_CATEGORIES``).
    """

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="files")
    category = models.CharField(max_length=32, choices=DataCategory.choices)
    name = models.CharField(max_length=255)
    media_type = models.CharField(max_length=100)
    at = models.DateTimeField(null=True, blank=True)
    content = models.FileField(upload_to="platform/", max_length=300)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.name}"


# --- Delivery ------------------------------------------------------------------------------


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
