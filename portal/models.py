"""Cross-cutting records: the tamper-evident audit chain."""

from django.conf import settings
from django.db import models

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One entry of the append-only, hash-chained audit log.

    ``hash`` is the SHA-256 of the RFC 8785 encoding of every other field, including
    ``prev_hash``, the hash of the event before it; ``seq`` numbers the chain from 1
    without gaps. On PostgreSQL a trigger refuses UPDATE and DELETE on this table.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # A snapshot of who acted (an email, or "system"), so the record reads on its own.
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=80, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id}"


class AuditChainHead(models.Model):
    """The newest event of the chain; its row lock serialises appends across processes."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"head #{self.seq} {self.hash[:12]}"
