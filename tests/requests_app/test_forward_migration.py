"""A database of the previous release, filled by its own `seed_demo`, migrates forward whole.

The previous release is the last commit before the stages moved into their packages
(`BASELINE`). Its code, taken from git, migrates a fresh PostgreSQL database and fills it;
today's code then migrates the same database. Every row of every table it had is still
there, unchanged in every column it had; every constraint and index it had still exists
with the same definition; and `verify_audit` still finds the audit log intact.

A second database, migrated without the demonstration app (as production runs), holds
none of the demonstration directory's tables.
"""

import io
import os
import re
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import ROOT

BASELINE = "ec8a2b9"
DEMO_TABLES = {
    "requests_app_platformaccount",
    "requests_app_platformipevent",
    "requests_app_platformfile",
}

# What a migration since the baseline removes on purpose, and why; nothing else may go.
DROPPED_TABLES = {
    "portal_auditchainhead": "the chain head gives way to signed tree heads (portal 0003)",
}
DROPPED_COLUMNS = {
    ("portal_auditevent", "id"): "the event's number (seq) is its key (portal 0003)",
    ("portal_auditevent", "hash"): "each event's hash is its RFC 9162 leaf, portal_auditleaf",
}
DROPPED_CONSTRAINTS = {
    "portal_auditevent_seq_key": "seq is the primary key now (portal 0003)",
    "portal_auditevent_seq_check": "seq is the primary key's own sequence (portal 0003)",
}
# What a migration since the baseline rewrites on purpose (compared apart, below).
REWRITTEN_COLUMNS = {
    ("otp_totp_totpdevice", "key"): "TOTP seeds sealed at rest (accounts 0004)",
}

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def _server_url(dbname: str) -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return (
        f"postgresql://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}"
        f":{settings['PORT'] or 5432}/{dbname}"
    )


@pytest.fixture
def scratch_database(postgres):
    """A new, empty PostgreSQL database of its own; dropped afterwards."""
    name = f"portal_forward_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        with psycopg.connect(_server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def baseline_tree(tmp_path) -> Path:
    """The previous release's tracked files, from git."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BASELINE],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    tree = tmp_path / "baseline"
    tree.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    (tree / "var").mkdir()
    return tree


def _manage(tree: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _env(url: str, shared: Path, tree: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_MODE="development",
        DATABASE_URL=url,
        PYTHONPATH=str(tree),
        # Both releases use the same keys and the same stored files.
        PORTAL_SIGNING_KEY_FILE=str(shared / "portal-signing-key.pem"),
        PORTAL_STORAGE_KEY_FILE=str(shared / "portal-storage-key.txt"),
        SEALED_STORAGE_DIR=str(shared / "sealed"),
        **extra,
    )
    env.pop("CELERY_BROKER_URL", None)
    return env


def _snapshot(url: str, tables: dict[str, list[str]] | None = None) -> dict:
    """Per table: its columns and a digest of each row over those columns; the schema."""
    with psycopg.connect(url) as db:
        if tables is None:
            tables = {}
            for table, column in db.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
            ):
                tables.setdefault(table, []).append(column)
        rows = {}
        for table, columns in tables.items():
            quoted = ", ".join(f'"{c}"' for c in columns)
            rows[table] = {
                digest
                for (digest,) in db.execute(
                    f'SELECT md5(ROW({quoted})::text) FROM "{table}"'  # noqa: S608  (catalog names)
                )
            }
        constraints = set(
            db.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            ).fetchall()
        )
        indexes = set(
            db.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).fetchall()
        )
        triggers = set(
            db.execute(
                "SELECT event_object_table, trigger_name, action_statement "
                "FROM information_schema.triggers WHERE trigger_schema = 'public'"
            ).fetchall()
        )
    return {
        "tables": tables,
        "rows": rows,
        "constraints": constraints,
        "indexes": indexes,
        "triggers": triggers,
    }


def _gone_on_purpose(table: str, definition: str) -> bool:
    """A constraint, index or trigger of a table dropped on purpose, or on a dropped column."""
    if table in DROPPED_TABLES:
        return True
    return any(
        dropped_table == table and re.search(rf"\b{column}\b", definition)
        for dropped_table, column in DROPPED_COLUMNS
    )


def test_a_seeded_database_of_the_previous_release_migrates_forward_whole(
    scratch_database, baseline_tree, tmp_path
):
    shared = tmp_path / "shared"
    (shared / "sealed").mkdir(parents=True)
    old = _env(scratch_database, shared, baseline_tree)
    _manage(baseline_tree, old, "migrate", "--no-input", "-v", "0")
    seeded = _manage(baseline_tree, old, "seed_demo")
    assert "demo requests are in the review queue" in seeded
    schema = _snapshot(scratch_database)
    kept = {
        table: [
            column
            for column in columns
            if (table, column) not in DROPPED_COLUMNS | REWRITTEN_COLUMNS.keys()
        ]
        for table, columns in schema["tables"].items()
        if table not in DROPPED_TABLES
    }
    before = _snapshot(scratch_database, kept)
    assert before["rows"]["requests_app_legalrequest"]
    assert before["rows"]["requests_app_platformaccount"]
    assert before["rows"]["portal_auditevent"]

    new = _env(scratch_database, shared, ROOT)
    _manage(ROOT, new, "migrate", "--no-input", "-v", "0")

    now = _snapshot(scratch_database)
    assert set(schema["tables"]) - set(now["tables"]) == set(DROPPED_TABLES)
    for table, columns in kept.items():
        assert set(columns) <= set(now["tables"][table]), table
    after = _snapshot(scratch_database, kept)
    # Migrations may add rows (content types of a new app), never lose or change one.
    lost = {
        table: len(before["rows"][table] - after["rows"][table])
        for table in before["rows"]
        if before["rows"][table] - after["rows"][table]
    }
    assert lost == {}
    for kind in ("constraints", "indexes", "triggers"):
        missing = {
            item
            for item in schema[kind] - now[kind]
            if not _gone_on_purpose(item[0], item[2]) and item[1] not in DROPPED_CONSTRAINTS
        }
        assert missing == set(), kind
    assert any(
        table == "portal_auditevent" and definition == "PRIMARY KEY (seq)"
        for table, _name, definition in now["constraints"]
    )
    with psycopg.connect(scratch_database) as db:
        seeds = [key for (key,) in db.execute("SELECT key FROM otp_totp_totpdevice")]
    assert seeds
    assert all(seed.startswith("v1:") for seed in seeds)  # sealed, none left in the clear
    verified = _manage(ROOT, new, "verify_audit")
    assert "intact" in verified.lower() or "ok" in verified.lower(), verified


def test_a_database_migrated_without_the_demo_app_has_none_of_its_tables(
    scratch_database, tmp_path
):
    shared = tmp_path / "shared"
    (shared / "sealed").mkdir(parents=True)
    _manage(ROOT, _env(scratch_database, shared, ROOT, PORTAL_DEMO_SOURCE="false"), "migrate")
    with psycopg.connect(scratch_database) as db:
        tables = {
            name
            for (name,) in db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert "requests_app_legalrequest" in tables
    assert DEMO_TABLES & tables == set()
