"""A request asked for clarification after its deadline is recorded as such
(``LegalRequest.paused_late``), and a partial index holds exactly those still awaiting
an answer; another holds the approved preservations by deadline. The review queue's
overdue count reads these instead of every paused or approved request and its review
row. The requests already waiting get the flag from their review row, by the rule it
replaces (paused after the deadline).

The indexes are built concurrently on PostgreSQL (``portal.migration_ops``), so that
requests go on being written meanwhile; the new column (a constant default: no rewrite
of the table) and the backfill each run in a transaction of their own."""

from django.db import migrations, models
from django.db.models import F

import portal.migration_ops


def paused_late_backfill(apps, schema_editor):
    LegalRequest = apps.get_model("requests_app", "LegalRequest")
    LegalRequest.objects.filter(
        status="awaiting_clarification", review__paused_since__gt=F("due_at")
    ).update(paused_late=True)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("requests_app", "0016_default_country_help"),
    ]

    operations = [
        migrations.AddField(
            model_name="legalrequest",
            name="paused_late",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.RunPython(paused_late_backfill, migrations.RunPython.noop, atomic=True),
        portal.migration_ops.IndexConcurrently(
            model_name="legalrequest",
            index=models.Index(
                condition=models.Q(("paused_late", True), ("status", "awaiting_clarification")),
                fields=["id"],
                name="lr_overdue_paused",
            ),
        ),
        portal.migration_ops.IndexConcurrently(
            model_name="legalrequest",
            index=models.Index(
                condition=models.Q(("kind", "preservation"), ("status", "approved")),
                fields=["due_at"],
                name="lr_approved_preservation",
            ),
        ),
    ]
