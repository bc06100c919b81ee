"""Data migrations that change what an existing database holds."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("requests_app", "0008_pinned_verification_key")
AFTER = ("requests_app", "0009_denmark_not_bound_by_the_evidence_regulation")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_an_existing_database_loses_denmarks_european_production_order_rule():
    try:
        apps = _migrate(BEFORE)
        rule = apps.get_model("requests_app", "PolicyRule")
        austria = rule.objects.get(country="AT", kind="eu_epoc")
        rule.objects.create(
            country="DK",
            kind="eu_epoc",
            allowed=True,
            disclosable_categories=austria.disclosable_categories,
            document_required=True,
            deadline_hours=240,
        )

        apps = _migrate(AFTER)

        rule = apps.get_model("requests_app", "PolicyRule")
        assert not rule.objects.filter(country="DK").exists()
        assert rule.objects.filter(country="AT", kind="eu_epoc", allowed=True).exists()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
