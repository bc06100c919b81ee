"""Make published snapshots unchangeable in the database, not only in the model.

PostgreSQL refuses UPDATE and DELETE of a snapshot for every role (like the audit table,
portal/migrations/0002); test databases are emptied with TRUNCATE, which passes. SQLite
refuses UPDATE only: its test databases are emptied with DELETE.
"""

from django.db import migrations

POSTGRESQL_CREATE = """
CREATE OR REPLACE FUNCTION transparency_snapshot_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'published snapshots are never changed: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER transparency_snapshot_append_only
    BEFORE UPDATE OR DELETE ON transparency_snapshot
    FOR EACH ROW EXECUTE FUNCTION transparency_snapshot_refuse_change();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS transparency_snapshot_append_only ON transparency_snapshot;
DROP FUNCTION IF EXISTS transparency_snapshot_refuse_change();
"""
SQLITE_CREATE = """
CREATE TRIGGER transparency_snapshot_no_update BEFORE UPDATE ON transparency_snapshot
BEGIN
    SELECT RAISE(ABORT, 'published snapshots are never changed: UPDATE refused');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS transparency_snapshot_no_update;"


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_CREATE, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE, params=None)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("transparency", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
