"""The reviewers' search by a target's value reads an index on the value in lower case:
an email address is found whatever the case it was sent or searched in (intake keeps the
local part as the authority wrote it), and every other value, matched exactly, through
the same index instead of reading every target."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("requests_app", "0017_paused_late_and_overdue_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="requesttarget",
            index=models.Index(
                django.db.models.functions.text.Lower("value"), name="request_target_value_lower"
            ),
        ),
    ]
