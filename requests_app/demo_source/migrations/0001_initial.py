"""The demonstration directory's models, adopted from `requests_app` under the same tables.

Where `requests_app.0010` kept the tables (this app was installed), this is state only and
every row stays; where they are missing (a database migrated without this app, then given
it), they are created.
"""

import django.db.models.deletion
from django.db import migrations, models

MODELS = ["PlatformAccount", "PlatformIpEvent", "PlatformFile"]  # parents first


def create_missing_tables(apps, schema_editor):
    existing = set(schema_editor.connection.introspection.table_names())
    for name in MODELS:
        model = apps.get_model("demo_source", name)
        if model._meta.db_table not in existing:
            schema_editor.create_model(model)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("requests_app", "0010_demo_directory_leaves_the_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PlatformAccount",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("user_id", models.CharField(max_length=64, unique=True)),
                        ("username", models.CharField(max_length=64, unique=True)),
                        ("display_name", models.CharField(blank=True, max_length=200)),
                        ("email", models.EmailField(blank=True, max_length=254)),
                        (
                            "phone_number",
                            models.CharField(blank=True, db_index=True, max_length=32),
                        ),
                        ("registered_at", models.DateTimeField()),
                        ("channels", models.JSONField(blank=True, default=list)),
                    ],
                    options={
                        "db_table": "requests_app_platformaccount",
                    },
                ),
                migrations.CreateModel(
                    name="PlatformFile",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "category",
                            models.CharField(
                                choices=[
                                    (
                                        "subscriber_info",
                                        "Subscriber information (name, registration)",
                                    ),
                                    ("phone_number", "Phone number"),
                                    ("email_address", "Email address"),
                                    ("ip_addresses", "IP addresses with timestamps"),
                                    ("login_history", "Login history"),
                                    ("device_info", "Device information"),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        ("media_type", models.CharField(max_length=100)),
                        ("at", models.DateTimeField(blank=True, null=True)),
                        ("content", models.FileField(max_length=300, upload_to="platform/")),
                        ("size", models.PositiveBigIntegerField()),
                        ("sha256", models.CharField(max_length=64)),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="files",
                                to="demo_source.platformaccount",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "requests_app_platformfile",
                        "ordering": ["pk"],
                    },
                ),
                migrations.CreateModel(
                    name="PlatformIpEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("registration", "Registration"),
                                    ("login", "Login"),
                                    ("session", "Session"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("ip", models.GenericIPAddressField()),
                        ("port", models.PositiveIntegerField(blank=True, null=True)),
                        ("at", models.DateTimeField()),
                        ("device", models.CharField(blank=True, max_length=200)),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="ip_events",
                                to="demo_source.platformaccount",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "requests_app_platformipevent",
                        "ordering": ["at"],
                        "indexes": [
                            models.Index(
                                fields=["account", "at"], name="requests_ap_account_c3745d_idx"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(create_missing_tables, migrations.RunPython.noop),
    ]
