"""Indexes on tables that already hold requests are built without blocking their writes."""

import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddIndex, CreateModel

from portal.migration_ops import IndexConcurrently

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {"portal", "accounts", "requests_app", "transparency", "demo_source"}
# Migrations written before the rule, when the tables were small or new.
BEFORE_THE_RULE = {
    ("requests_app", "0001_initial"),
    ("requests_app", "0005_queue_and_retry_indexes"),
    ("requests_app", "0013_target_types_windows_and_drafts"),
}


def test_every_index_added_to_an_existing_table_is_built_concurrently():
    """A plain CREATE INDEX blocks every write to its table until it is built: seconds
    without a submission stored on a table of a million rows."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    offending = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in PROJECT_APPS or (app, name) in BEFORE_THE_RULE:
            continue
        created = {op.name.lower() for op in migration.operations if isinstance(op, CreateModel)}
        for op in migration.operations:
            if (
                isinstance(op, AddIndex)
                and not isinstance(op, IndexConcurrently)
                and op.model_name.lower() not in created
            ):
                offending.append(f"{app}.{name}: {op.index.name}")
        if any(isinstance(op, IndexConcurrently) for op in migration.operations):
            assert migration.atomic is False, f"{app}.{name} must say atomic = False"
    assert offending == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statement")
@pytest.mark.parametrize(
    ("migration", "indexes"),
    [
        ("0017", ["lr_overdue_paused", "lr_approved_preservation"]),
        ("0018", ["request_target_value_lower"]),
    ],
)
def test_on_postgresql_the_queue_indexes_are_created_concurrently(migration, indexes):
    out = io.StringIO()
    call_command("sqlmigrate", "requests_app", migration, stdout=out)
    sql = out.getvalue()
    for index in indexes:
        assert f'CREATE INDEX CONCURRENTLY "{index}"' in sql
    assert "BEGIN;" not in sql  # CONCURRENTLY cannot run inside a transaction


def test_on_sqlite_the_same_migrations_make_plain_indexes(tmp_path):
    """The development server's database (``make run``) has no CREATE INDEX
    CONCURRENTLY: there the operation is a plain index, and the migrations run."""
    database = tmp_path / "portal.sqlite3"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{database}",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        },
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(database) as db:
        names = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert {"lr_overdue_paused", "lr_approved_preservation", "request_target_value_lower"} <= names
