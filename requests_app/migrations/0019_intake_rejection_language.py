"""The intake-rejection log records the language each refusal was answered in
(``IntakeRejection.language``), so that an administrator reading another language is told
which one the detail is in. Rows logged before it keep a blank language.

A column with a constant default: no rewrite of the table, no index, a brief lock."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0018_target_value_lower_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="intakerejection",
            name="language",
            field=models.CharField(blank=True, default="", max_length=10),
        ),
    ]
