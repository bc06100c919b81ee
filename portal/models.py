"""Cross-cutting records: the audit log, an RFC 9162 Merkle tree (docs/audit-log.md).

An audited change inserts one ``AuditEvent`` in its own transaction and nothing else: no
shared row is read or locked. The sequencer (``portal.sequencer``) later gives committed
events their place in the tree: an ``AuditLeaf`` (position and leaf hash) each, the
``AuditNode`` hashes of the complete subtrees they close, and an ``AuditTreeHead`` signed
by the portal's key. Every one of these tables is insert-only: on PostgreSQL a trigger
refuses UPDATE and DELETE for every role, and the portal's runtime role holds only
SELECT and INSERT on them (``manage.py setup_db_roles``).
"""

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One entry of the append-only audit log.

    ``seq`` numbers events in the order their rows were inserted (a database sequence):
    unique, increasing, with gaps where a transaction rolled back. It is not the position
    in the tree: transactions commit in another order than they insert, and the sequencer
    gives each committed event its leaf (``leaf``) in the order it sees commits.

    ``prev_hash`` belongs to the events written before the tree, when the log was a hash
    chain: it is part of their content (their leaves commit to it), empty since.
    ``xact`` is the PostgreSQL transaction (xid8) that inserted the row, set by a trigger
    whatever the INSERT says; the sequencer uses it to know when no transaction that
    could still commit an event below a point is running (``portal.sequencer``).
    """

    seq = models.BigAutoField(primary_key=True)
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
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    # Indexed on PostgreSQL with BRIN (migration 0003): it grows with the table, and a BRIN
    # index costs writers almost nothing.
    xact = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["target_type", "target_id", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_type}:{self.target_id}"


class AuditLeaf(models.Model):
    """An event's place in the tree: leaf ``index`` (from 0) and its RFC 9162 leaf hash.

    ``index`` is the primary key and ``event`` is unique: no position holds two events
    and no event is sequenced twice, whatever runs at once.
    """

    index = models.PositiveBigIntegerField(primary_key=True)
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="leaf")
    # SHA-256(0x00 || RFC 8785 of the event), lowercase hex.
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["index"]

    def __str__(self) -> str:
        return f"leaf {self.index} = event #{self.event_id}"


class AuditNode(models.Model):
    """The hash of a complete subtree of 2**level leaves, the ``index``-th of its level.

    Stored once the subtree is complete and never changed, so that any root and any
    proof is a handful of look-ups. Level 0 (the leaves) lives in ``AuditLeaf``.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    # SHA-256(0x01 || left || right), lowercase hex.
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class AuditTreeHead(models.Model):
    """A tree head the sequencer signed: ``{tree_size, root_hash, timestamp}``.

    The signature is the portal key's Ed25519 over the RFC 8785 encoding of those three
    members. ``horizon`` is the sequencer's own bookkeeping (not signed, not published).
    """

    tree_size = models.PositiveBigIntegerField(primary_key=True)
    root_hash = models.CharField(max_length=64)
    # RFC 3339 UTC with microseconds, exactly as signed.
    timestamp = models.CharField(max_length=32)
    key_id = models.CharField(max_length=80)
    # Base64 of the 64-byte Ed25519 signature.
    signature = models.CharField(max_length=88)
    horizon = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"tree head {self.tree_size} {self.root_hash[:12]}"


class AuditPublication(models.Model):
    """A tree head sent out: its RFC 3161 timestamp (when a TSA is set) and witnesses."""

    head = models.OneToOneField(
        AuditTreeHead, primary_key=True, on_delete=models.PROTECT, related_name="publication"
    )
    published_at = models.DateTimeField()
    # The DER TimeStampResp of the TSA over SHA-256 of the head's signature; empty when
    # no time-stamping authority is configured.
    tsa_response = models.BinaryField(blank=True, default=b"")
    tsa_url = models.CharField(max_length=500, blank=True, default="")

    def __str__(self) -> str:
        return f"publication of head {self.head_id}"
