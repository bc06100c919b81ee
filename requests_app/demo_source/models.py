"""The demonstration platform directory, the database-backed data source.

`make run` and the tests use it; it is never installed in production.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from requests_app.lifecycle.models import DataCategory


class PlatformAccount(models.Model):
    """An account on the platform, as the database-backed data source knows it."""

    user_id = models.CharField(max_length=64, unique=True)
    username = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone_number = models.CharField(max_length=32, blank=True, db_index=True)
    registered_at = models.DateTimeField()
    channels = models.JSONField(default=list, blank=True)  # channel names the account owns

    class Meta:
        app_label = "demo_source"
        db_table = "requests_app_platformaccount"

    def __str__(self) -> str:
        return self.username


class PlatformIpEvent(models.Model):
    """An IP address an account used, with its time (registration, login or session)."""

    class Kind(models.TextChoices):
        REGISTRATION = "registration", _("Registration")
        LOGIN = "login", _("Login")
        SESSION = "session", _("Session")

    account = models.ForeignKey(PlatformAccount, on_delete=models.CASCADE, related_name="ip_events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ip = models.GenericIPAddressField()
    port = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField()
    device = models.CharField(max_length=200, blank=True)

    class Meta:
        app_label = "demo_source"
        db_table = "requests_app_platformipevent"
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
        app_label = "demo_source"
        db_table = "requests_app_platformfile"
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.name}"
