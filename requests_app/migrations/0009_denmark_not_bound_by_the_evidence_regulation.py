"""Denmark is not bound by the e-Evidence Regulation (EU) 2023/1543 (recital 94).

0002 seeded an eu_epoc rule allowing the European Production Order from every EU member
state, Denmark included. Without its own rule, Denmark falls back to the default, which
refuses the kind. Requests already received keep what they were.
"""

from django.db import migrations


def forward(apps, schema_editor):
    rule = apps.get_model("requests_app", "PolicyRule")
    rule.objects.filter(country="DK", kind="eu_epoc").delete()


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0008_pinned_verification_key")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
