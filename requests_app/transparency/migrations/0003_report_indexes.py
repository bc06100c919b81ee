"""Indexes the transparency report counts from, on PostgreSQL.

Covering indexes (``INCLUDE``) on the legal requests' tables, so that PostgreSQL counts a
period from the indexes alone instead of reading the wide request rows (each carries
its signed payload): a year's figures over 1,000,000 requests went from about 1.1 s to
0.8 s (bench/RESULTS.md, bench/transparency.py). They belong to the report, so this app
creates them, under names of its own; SQLite (development, tests) does without.
"""

from django.db import migrations

INDEXES = {
    "transparency_request_received": (
        "requests_app_legalrequest",
        "(received_at) INCLUDE (id, country, status, kind, emergency, due_at)",
    ),
    "transparency_review_request": (
        "requests_app_reviewstate",
        "(request_id) INCLUDE (decided_at, paused_seconds, assignee_id)",
    ),
    "transparency_disclosure_sealed": (
        "requests_app_disclosure",
        "(request_id) INCLUDE (decision_id) WHERE state = 'sealed'",
    ),
    "transparency_rejection_at": (
        "requests_app_intakerejection",
        "(at) INCLUDE (agency_id)",
    ),
}
CREATE = [
    f"CREATE INDEX IF NOT EXISTS {name} ON {table} {definition}"
    for name, (table, definition) in INDEXES.items()
]
DROP = [f"DROP INDEX IF EXISTS {name}" for name in INDEXES]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement, params=None)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("transparency", "0002_snapshot_append_only"),
        ("requests_app", "0003_platformaccount_assessment_decision_disclosure_and_more"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
