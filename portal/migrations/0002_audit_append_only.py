"""Make the audit table append-only on PostgreSQL and create the chain head.

The trigger refuses UPDATE and DELETE for every role, including the portal's own; the
only way past it is to disable the trigger, which needs the table owner and is itself
visible to a database auditor. TRUNCATE is not refused, because test databases are
emptied with it; the production database role should not own the table (README).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION portal_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_audit_refuse_change();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def create_head(apps, schema_editor):
    apps.get_model("portal", "AuditChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
