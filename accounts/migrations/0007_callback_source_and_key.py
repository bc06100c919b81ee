# Calls carry the source of a number found independently, and the key they were about.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_agency_supervisors"),
    ]

    operations = [
        migrations.AddField(
            model_name="callbackcheck",
            name="age_recipient",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="callbacks",
                to="accounts.agerecipient",
            ),
        ),
        migrations.AddField(
            model_name="callbackcheck",
            name="number_source",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="callbackcheck",
            name="signing_key",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="callbacks",
                to="accounts.signingkey",
            ),
        ),
        migrations.AddField(
            model_name="callbackcheck",
            name="signing_passkey",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="callbacks",
                to="accounts.signingpasskey",
            ),
        ),
        migrations.AddConstraint(
            model_name="callbackcheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("signing_key__isnull", True), ("signing_passkey__isnull", True)),
                    models.Q(("age_recipient__isnull", True), ("signing_key__isnull", True)),
                    models.Q(("age_recipient__isnull", True), ("signing_passkey__isnull", True)),
                    _connector="OR",
                ),
                name="callback_at_most_one_key",
            ),
        ),
    ]
