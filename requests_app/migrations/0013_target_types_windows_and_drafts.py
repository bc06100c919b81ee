"""Three target types (email, ip_address, url), an IP address's time window, and drafts.

Targets gain the types of PROTOCOL 1.2 §2.2 and, for an IP address, the window in which
it was used (a constraint keeps it on IP addresses only). Officers' unsigned drafts and
their documents (age ciphertext under drafts/) are intake's.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_signing_passkey"),
        ("requests_app", "0012_signed_replies_with_documents"),
    ]

    operations = [
        migrations.CreateModel(
            name="DraftDocument",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("filename", models.CharField(max_length=200)),
                ("media_type", models.CharField(max_length=100)),
                ("sha256", models.CharField(max_length=64)),
                ("size", models.PositiveBigIntegerField()),
                ("file", models.FileField(max_length=300, upload_to="drafts/")),
            ],
            options={
                "ordering": ["id"],
            },
        ),
        migrations.CreateModel(
            name="SubmissionDraft",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("preservation", "Preservation"),
                            ("subscriber_data", "Subscriber data"),
                            ("court_order", "Court order"),
                            ("search_warrant", "Search warrant"),
                            ("eu_epoc", "European Production Order (EPOC)"),
                            ("emergency", "Emergency"),
                        ],
                        max_length=30,
                    ),
                ),
                ("fields", models.JSONField(default=dict)),
                ("copied_from", models.CharField(blank=True, max_length=32)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["-updated_at", "-pk"],
            },
        ),
        migrations.AddField(
            model_name="requesttarget",
            name="window_from",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="requesttarget",
            name="window_to",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="requesttarget",
            name="type",
            field=models.CharField(
                choices=[
                    ("username", "Username"),
                    ("phone", "Phone number"),
                    ("user_id", "User id"),
                    ("channel", "Channel"),
                    ("email", "Email address"),
                    ("ip_address", "IP address"),
                    ("url", "Platform URL"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="requesttarget",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("type", "ip_address"),
                        ("window_from__isnull", False),
                        ("window_to__isnull", False),
                    ),
                    models.Q(
                        models.Q(("type", "ip_address"), _negated=True),
                        ("window_from__isnull", True),
                        ("window_to__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="request_target_window_only_for_ip",
            ),
        ),
        migrations.AddField(
            model_name="submissiondraft",
            name="officer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.officer"
            ),
        ),
        migrations.AddField(
            model_name="draftdocument",
            name="draft",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="documents",
                to="requests_app.submissiondraft",
            ),
        ),
        migrations.AddIndex(
            model_name="submissiondraft",
            index=models.Index(fields=["officer", "-updated_at"], name="draft_officer_recent"),
        ),
    ]
