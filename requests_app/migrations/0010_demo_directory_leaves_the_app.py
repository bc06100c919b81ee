"""The demonstration directory leaves `requests_app` for the optional app `demo_source`.

State only for `requests_app`: the three models leave its state. Their tables stay where
the demonstration app is installed (development, tests), which adopts them under the same
names in `demo_source.0001`, rows and all; a database without that app (production) drops
them, so it holds no demonstration data.
"""

from django.apps import apps as installed_apps
from django.db import migrations

DEMO_TABLES = [  # children first
    "requests_app_platformfile",
    "requests_app_platformipevent",
    "requests_app_platformaccount",
]


def drop_unless_demo_installed(apps, schema_editor):
    if installed_apps.is_installed("requests_app.demo_source"):
        return
    existing = set(schema_editor.connection.introspection.table_names())
    for table in DEMO_TABLES:
        if table in existing:
            schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(table)}")


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0009_denmark_not_bound_by_the_evidence_regulation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="platformfile",
                    name="account",
                ),
                migrations.RemoveIndex(
                    model_name="platformipevent",
                    name="requests_ap_account_c3745d_idx",
                ),
                migrations.DeleteModel(
                    name="PlatformFile",
                ),
                migrations.RemoveField(
                    model_name="platformipevent",
                    name="account",
                ),
                migrations.DeleteModel(
                    name="PlatformAccount",
                ),
                migrations.DeleteModel(
                    name="PlatformIpEvent",
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_unless_demo_installed, migrations.RunPython.noop),
            ],
        ),
    ]
