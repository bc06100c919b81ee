"""People who use the portal.

One user model for every role. An officer works for an agency; reviewers and vetting
administrators work for the platform. The role decides which pages exist for a user.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class Role(models.TextChoices):
    OFFICER = "officer", gettext_lazy("Officer")
    REVIEWER = "reviewer", gettext_lazy("Reviewer")
    VETTING_ADMIN = "vetting_admin", gettext_lazy("Vetting administrator")
    # Answers for an agency's officers: sees the agency's requests, suspends its officers,
    # vouches for new ones, revokes their keys and tokens (accounts/services/supervision.py).
    SUPERVISOR = "supervisor", _("Agency supervisor")


# The roles that belong to an agency (an ``Officer`` row holds their agency side): their
# standing is checked on every request, and they need both a passkey and a TOTP app.
AGENCY_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("role", Role.VETTING_ADMIN)
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=gettext_lazy("May log in to the Django admin (second factor required)."),
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # The user's own choices (accounts.preferences); empty: the defaults.
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    objects = UserManager()

    # Set on each request by django-otp's middleware: True once a second factor passed.
    is_verified: Callable[[], bool]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name", "role"]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def is_officer(self) -> bool:
        return self.role == Role.OFFICER

    @property
    def is_reviewer(self) -> bool:
        return self.role == Role.REVIEWER

    @property
    def is_vetting_admin(self) -> bool:
        return self.role == Role.VETTING_ADMIN

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR


class Agency(models.Model):
    """A police force, prosecution office, court or regulator that may ask for data."""

    class Kind(models.TextChoices):
        POLICE = "police", gettext_lazy("Police")
        PROSECUTOR = "prosecutor", gettext_lazy("Prosecutor")
        COURT = "court", gettext_lazy("Court")
        REGULATOR = "regulator", gettext_lazy("Regulator")
        OTHER = "other", gettext_lazy("Other")

    class Status(models.TextChoices):
        PENDING = "pending", gettext_lazy("Pending verification")
        VERIFIED = "verified", gettext_lazy("Verified")
        SUSPENDED = "suspended", gettext_lazy("Suspended")
        REJECTED = "rejected", gettext_lazy("Rejected")

    name = models.CharField(max_length=200)
    country = CountryField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    callback_phone = models.CharField(
        max_length=32,
        help_text=gettext_lazy("The number on file, E.164 (+4930...), for callbacks."),
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    status_reason = models.TextField(blank=True)
    verified_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    proposed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["country", "name"]
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(fields=["country", "name"], name="agency_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"

    @property
    def is_verified(self) -> bool:
        return self.status == self.Status.VERIFIED


class AgencyDomain(models.Model):
    """An official email domain of an agency, stored in its IDNA (ASCII) form."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)
    allow_subdomains = models.BooleanField(
        default=False,
        help_text=gettext_lazy("Also accept addresses on any subdomain of this domain."),
    )

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return ("*." if self.allow_subdomains else "") + self.domain


class Officer(models.Model):
    """The agency side of a user with the officer role, or with the supervisor role.

    A supervisor is vetted like an officer (this row's status, its callbacks) but does not
    submit: the officer pages and the API are for the officer role only.
    """

    class Status(models.TextChoices):
        EMAIL_UNVERIFIED = "email_unverified", gettext_lazy("Mailbox not yet verified")
        PENDING = "pending", gettext_lazy("Waiting for vetting")
        ACTIVE = "active", gettext_lazy("Active")
        REJECTED = "rejected", gettext_lazy("Rejected")
        SUSPENDED = "suspended", gettext_lazy("Suspended")

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="officer")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="officers")
    title = models.CharField(max_length=120)
    badge_number = models.CharField(max_length=60)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.EMAIL_UNVERIFIED, db_index=True
    )
    status_reason = models.TextField(blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    vetted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    vetted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A vetting administrator proposed this officer as the agency's supervisor: from then
    # on, a confirmed callback about them is needed before they are appointed.
    supervisor_proposed_at = models.DateTimeField(null=True, blank=True)
    supervisor_proposed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["agency", "user__full_name"]

    def __str__(self) -> str:
        return f"{self.user.full_name} ({self.agency})"

    @property
    def can_act(self) -> bool:
        """Active officer of a verified agency: the only standing that may submit or read."""
        return (
            self.status == self.Status.ACTIVE
            and self.user.is_active
            and self.agency.status == Agency.Status.VERIFIED
        )


class CallbackCheck(models.Model):
    """A phone call a vetting administrator made to an agency's number on file."""

    class Outcome(models.TextChoices):
        CONFIRMED = "confirmed", gettext_lazy("Confirmed")
        NOT_CONFIRMED = "not_confirmed", gettext_lazy("Not confirmed")
        NO_ANSWER = "no_answer", gettext_lazy("No answer")

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="callbacks")
    officer = models.ForeignKey(
        Officer, null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks"
    )
    # The key whose fingerprint the call was about, if any (at most one of the three).
    signing_key = models.ForeignKey(
        "SigningKey", null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks"
    )
    signing_passkey = models.ForeignKey(
        "SigningPasskey", null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks"
    )
    age_recipient = models.ForeignKey(
        "AgeRecipient", null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks"
    )
    # The number dialled, copied from the agency's record at the time of the call.
    number_called = models.CharField(max_length=32)
    # Where the administrator found that number, independently of the registration: said
    # for every call to an agency that was never verified (its number on file came with
    # the proposal, from the person the call is meant to check).
    number_source = models.TextField(blank=True)
    called_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    called_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-called_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(signing_key__isnull=True, signing_passkey__isnull=True)
                    | models.Q(signing_key__isnull=True, age_recipient__isnull=True)
                    | models.Q(signing_passkey__isnull=True, age_recipient__isnull=True)
                ),
                name="callback_at_most_one_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number_called} {self.outcome} {self.called_at:%Y-%m-%d}"

    @property
    def key(self) -> "SigningKey | SigningPasskey | AgeRecipient | None":
        """The key the call was about, if any."""
        return self.signing_key or self.signing_passkey or self.age_recipient


class OfficerVouch(models.Model):
    """An agency supervisor's word that a registering officer works for the agency.

    Evidence for the vetting administrator, who still approves. A vouch from a supervisor
    whose own confirmed callback is recent enough (``SUPERVISOR_VOUCH_CALLBACK_DAYS``)
    stands in for the officer's own callback (``accounts.selectors.vouch_counting``).
    """

    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="vouches")
    supervisor = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="vouches_given")
    vouched_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-vouched_at"]
        constraints = [
            models.UniqueConstraint(fields=["officer", "supervisor"], name="officer_vouch_once")
        ]

    def __str__(self) -> str:
        return f"{self.supervisor_id} vouched for {self.officer_id}"


class KeyStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("Pending approval")
    ACTIVE = "active", gettext_lazy("Active")
    REVOKED = "revoked", gettext_lazy("Revoked")
    REJECTED = "rejected", gettext_lazy("Rejected")


class EnrolledKey(models.Model):
    """Life cycle shared by every key an officer enrols: pending, active, revoked.

    A key is never deleted: old signatures and sealed files stay explainable.
    """

    label = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=20, choices=KeyStatus.choices, default=KeyStatus.PENDING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status == KeyStatus.ACTIVE


class SigningKey(EnrolledKey):
    """An officer's Ed25519 public key for the API channel (PROTOCOL §1)."""

    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="signing_keys")
    public_key_pem = models.TextField()
    # "ed25519:" + lowercase hex SHA-256 of the raw 32-byte public key.
    key_id = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id


class AgeRecipient(EnrolledKey):
    """An age X25519 recipient (``age1...``) that responses are sealed to.

    Belongs to an officer, or to an agency as one of its designated recipients.
    """

    officer = models.ForeignKey(
        Officer, null=True, blank=True, on_delete=models.PROTECT, related_name="recipients"
    )
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="recipients"
    )
    recipient = models.CharField(max_length=100)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(officer__isnull=False, agency__isnull=True)
                    | models.Q(officer__isnull=True, agency__isnull=False)
                ),
                name="age_recipient_one_owner",
            ),
            models.UniqueConstraint(
                fields=["officer", "recipient"], name="age_recipient_unique_per_officer"
            ),
            models.UniqueConstraint(
                fields=["agency", "recipient"], name="age_recipient_unique_per_agency"
            ),
        ]

    def __str__(self) -> str:
        return self.recipient


class SigningPasskey(EnrolledKey):
    """An officer's passkey as a key that signs web-channel submissions (PROTOCOL §1).

    The passkey itself is django-otp-webauthn's credential, a login factor from the moment
    it is registered; this row is its standing as a signing key, which waits ``pending``
    until an administrator compares the fingerprint with the officer. If the credential is
    removed, the row stays (``credential`` becomes null) so the record still explains
    the requests it signed.
    """

    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="signing_passkeys")
    credential = models.OneToOneField(
        "django_otp_webauthn.WebAuthnCredential",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="signing_passkey",
    )
    # "webauthn:" + base64url credential id; a credential id is at most 1023 bytes.
    key_id = models.CharField(max_length=1400, unique=True)
    # Lowercase hex SHA-256 of the credential's COSE public key, read out by phone.
    public_key_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.key_id


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; it is shown once."""

    MAX_LIFETIME_DAYS = 90

    officer = models.ForeignKey(Officer, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=120)
    # The first characters of the token, to recognise it in lists.
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class AuthFailure(models.Model):
    """A failed password or second-factor attempt, counted for lockouts.

    Kept in the database (not a process's memory) so every web worker sees the same
    count; old rows are only needed for the lockout window and the audit chain keeps the
    history.
    """

    class Kind(models.TextChoices):
        PASSWORD = "password", gettext_lazy("Password")
        SECOND_FACTOR = "second_factor", gettext_lazy("Second factor")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    email = models.CharField(max_length=254, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.email} {self.ip} {self.at:%Y-%m-%d %H:%M}"
