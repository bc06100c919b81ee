"""Load the default jurisdiction policy (PROTOCOL §3), and eu_epoc for EU member states."""

from django.db import migrations


def load(apps, schema_editor):
    from requests_app.policy.defaults import policy_defaults_load

    policy_defaults_load(apps.get_model("requests_app", "PolicyRule"))


class Migration(migrations.Migration):
    dependencies = [("requests_app", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
