"""The audit log becomes an RFC 9162 Merkle tree (docs/audit-log.md).

1. ``seq`` becomes the events' primary key, given by the database at INSERT (the chain
   head's row lock is gone); ``xact`` records the inserting transaction (PostgreSQL).
2. The leaf, node, tree head and publication tables.
3. The hash chain is checked once more, as ``verify_audit`` did, and its events become
   the first leaves in chain order: leaf ``seq - 1`` is SHA-256(0x00 || the very document
   whose SHA-256 was the event's chain hash). A broken chain stops the migration: putting
   it into a signed tree would vouch for what was tampered with.
4. ``hash`` and the chain head go; ``prev_hash`` stays, part of those events' content.
5. PostgreSQL: every audit table refuses UPDATE and DELETE, a trigger sets ``xact``, and
   a BRIN index on it serves the sequencer.

Not reversible: the chain hashes are not kept (they are recomputable from the events).
The first signed head is made by the sequencer's first run (migrations have no key).
"""

import hashlib

import django.db.models.deletion
import rfc8785
from django.db import migrations, models

from portal import merkle

GENESIS_HASH = "0" * 64


def _canonical_time(moment):
    from datetime import UTC

    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _legacy_document(event):
    return {
        "seq": event.seq,
        "created_at": _canonical_time(event.created_at),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }


def legacy_chain_to_tree(apps, schema_editor):
    AuditEvent = apps.get_model("portal", "AuditEvent")
    AuditChainHead = apps.get_model("portal", "AuditChainHead")
    AuditLeaf = apps.get_model("portal", "AuditLeaf")
    AuditNode = apps.get_model("portal", "AuditNode")

    head = AuditChainHead.objects.filter(pk=1).values_list("seq", "hash").first()
    head_seq, head_hash = head if head is not None else (0, GENESIS_HASH)
    edge = merkle.TreeEdge()
    previous = GENESIS_HASH
    leaves, nodes = [], []
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        where = f"event #{event.seq}"
        if event.seq != edge.size + 1:
            raise RuntimeError(f"The audit chain is broken: {where} follows #{edge.size}.")
        if event.prev_hash != previous:
            raise RuntimeError(
                f"The audit chain is broken: {where} does not link to the one before."
            )
        entry = rfc8785.dumps(_legacy_document(event))
        if hashlib.sha256(entry).hexdigest() != event.hash:
            raise RuntimeError(f"The audit chain is broken: {where} does not match its hash.")
        previous = event.hash
        digest = merkle.leaf_hash(entry)
        leaves.append(AuditLeaf(index=edge.size, event_id=event.seq, hash=digest.hex()))
        nodes.extend(
            AuditNode(level=level, index=index, hash=node.hex())
            for level, index, node in edge.append(digest)
        )
        if len(leaves) >= 2000:
            AuditLeaf.objects.bulk_create(leaves)
            AuditNode.objects.bulk_create(nodes)
            leaves, nodes = [], []
    AuditLeaf.objects.bulk_create(leaves)
    AuditNode.objects.bulk_create(nodes)
    if edge.size != head_seq or previous != head_hash:
        raise RuntimeError(
            f"The audit chain is broken: its head names event #{head_seq}, the chain ends "
            f"at #{edge.size} with another hash."
        )


def sequence_restart(apps, schema_editor):
    """PostgreSQL: the identity of ``seq`` continues after the chain's last event."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "SELECT setval(pg_get_serial_sequence('portal_auditevent', 'seq'), "
        "COALESCE(MAX(seq), 1), MAX(seq) IS NOT NULL) FROM portal_auditevent",
        params=None,
    )


APPEND_ONLY_TABLES = [
    "portal_auditleaf",
    "portal_auditnode",
    "portal_audittreehead",
    "portal_auditpublication",
]

CREATE_TRIGGERS = (
    "\n".join(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION portal_audit_refuse_change();"
        for table in APPEND_ONLY_TABLES
    )
    + """
CREATE OR REPLACE FUNCTION portal_audit_event_xact() RETURNS trigger AS $$
BEGIN
    -- Whatever the INSERT says: the sequencer's horizon depends on it (portal/sequencer.py).
    NEW.xact := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditevent_xact BEFORE INSERT ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_event_xact();
-- The sequencer reads events from its horizon on; xact grows with the table, so a BRIN
-- index serves that range and costs writers next to nothing (a B-tree's right edge is
-- one more page every writer would contend for).
CREATE INDEX portal_auditevent_xact_brin ON portal_auditevent USING brin (xact);
"""
)

DROP_TRIGGERS = (
    "\n".join(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in APPEND_ONLY_TABLES
    )
    + """
DROP INDEX IF EXISTS portal_auditevent_xact_brin;
DROP TRIGGER IF EXISTS portal_auditevent_xact ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_audit_event_xact();
"""
)


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS, params=None)


class Migration(migrations.Migration):
    dependencies = [("portal", "0002_audit_append_only")]

    operations = [
        migrations.RemoveField(model_name="auditevent", name="id"),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
        migrations.RunPython(sequence_restart),
        migrations.AddField(
            model_name="auditevent",
            name="xact",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.CreateModel(
            name="AuditLeaf",
            fields=[
                ("index", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ("hash", models.CharField(max_length=64)),
                (
                    "event",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="leaf",
                        to="portal.auditevent",
                    ),
                ),
            ],
            options={"ordering": ["index"]},
        ),
        migrations.CreateModel(
            name="AuditNode",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "level",
                        "index",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("level", models.PositiveSmallIntegerField()),
                ("index", models.PositiveBigIntegerField()),
                ("hash", models.CharField(max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name="AuditTreeHead",
            fields=[
                ("tree_size", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ("root_hash", models.CharField(max_length=64)),
                ("timestamp", models.CharField(max_length=32)),
                ("key_id", models.CharField(max_length=80)),
                ("signature", models.CharField(max_length=88)),
                ("horizon", models.BigIntegerField(default=0)),
                ("created_at", models.DateTimeField()),
            ],
            options={"ordering": ["-tree_size"]},
        ),
        migrations.CreateModel(
            name="AuditPublication",
            fields=[
                (
                    "head",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="publication",
                        serialize=False,
                        to="portal.audittreehead",
                    ),
                ),
                ("published_at", models.DateTimeField()),
                ("tsa_response", models.BinaryField(blank=True, default=b"")),
                ("tsa_url", models.CharField(blank=True, default="", max_length=500)),
            ],
        ),
        migrations.RunPython(legacy_chain_to_tree),
        migrations.RemoveField(model_name="auditevent", name="hash"),
        migrations.DeleteModel(name="AuditChainHead"),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
