"""Migration 0003: the hash chain's events become the tree's first leaves, in chain order,
and stay verifiable; a broken chain stops the migration.

Each test migrates a database of its own in other processes (``manage.py migrate``), as a
deployment would: a SQLite file, and on PostgreSQL a database made for the test.
The chain is written with the old schema by hand, hashed as docs/audit-chain.md said.
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import rfc8785

from tests.conftest import service_missing
from tests.portal import rfc9162

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 11
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def chain(count: int) -> list[dict[str, Any]]:
    """``count`` events of the hash chain: their documents and hashes."""
    previous, events = "0" * 64, []
    for seq in range(1, count + 1):
        document = {
            "seq": seq,
            "created_at": (START + timedelta(minutes=seq))
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
            "actor_id": None,
            "actor_label": "system",
            "action": "request.noted",
            "target_type": "test",
            "target_id": str(seq),
            "data": {"n": seq, "note": "Überprüft", "ratio": 0.5},
            "prev_hash": previous,
        }
        digest = hashlib.sha256(rfc8785.dumps(document)).hexdigest()
        events.append({"document": document, "hash": digest})
        previous = digest
    return events


def manage(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="portal.settings", PYTHONPATH=str(ROOT)
    )
    env.pop("CELERY_BROKER_URL", None)
    ran = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert ran.returncode == 0, ran.stderr
    return ran


class Database:
    """A database of the test's own, with a DB-API connection to write the old rows."""

    def __init__(self, url: str, connect: Callable[[], Any], placeholder: str) -> None:
        self.url, self.connect, self.placeholder = url, connect, placeholder

    def write_chain(self, events: list[dict[str, Any]], head_hash: str | None = None) -> None:
        p = self.placeholder
        with self.connect() as conn:
            cursor = conn.cursor()
            for event in events:
                doc = event["document"]
                cursor.execute(
                    "INSERT INTO portal_auditevent (seq, created_at, actor_id, actor_label, "  # noqa: S608 (placeholders only)
                    "action, target_type, target_id, data, prev_hash, hash) VALUES "
                    f"({', '.join([p] * 10)})",
                    [
                        doc["seq"],
                        doc["created_at"].replace("Z", "+00:00"),
                        None,
                        doc["actor_label"],
                        doc["action"],
                        doc["target_type"],
                        doc["target_id"],
                        json.dumps(doc["data"]),
                        doc["prev_hash"],
                        event["hash"],
                    ],
                )
            cursor.execute(
                f"UPDATE portal_auditchainhead SET seq = {p}, hash = {p} WHERE id = 1",  # noqa: S608 (placeholders)
                [len(events), head_hash or events[-1]["hash"]],
            )
            conn.commit()

    def rows(self, sql: str) -> list[tuple]:
        with self.connect() as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return list(cursor.fetchall())


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "migrate.sqlite3"
        yield Database(f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
        return
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgres"):
        service_missing("needs PostgreSQL (DATABASE_URL=postgres://...)")
    base = server.rsplit("/", 1)[0]
    name = f"portal_audit_migration_{unique}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(f"{base}/{name}", lambda: psycopg.connect(f"{base}/{name}"), "%s")
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_chain_becomes_the_first_leaves_and_new_events_follow(database: Database) -> None:
    # given a database with the hash chain, as before the tree
    manage(database.url, "migrate", "portal", "0002")
    events = chain(EVENTS)
    database.write_chain(events)

    # when it is migrated
    manage(database.url, "migrate")

    # then each event is the leaf at its chain position, over the very document its
    # chain hash named
    leaves = database.rows('SELECT "index", event_id, hash FROM portal_auditleaf ORDER BY "index"')
    documents = [rfc8785.dumps(event["document"]) for event in events]
    assert leaves == [(n, n + 1, rfc9162.leaf(documents[n]).hex()) for n in range(EVENTS)]
    # and the first signed head's root is the RFC 9162 root over those documents
    manage(
        database.url,
        "shell",
        "-c",
        "from portal.audit import audit_append; audit_append(action='after')",
    )
    sequenced = manage(database.url, "audit_sequence", "--no-publish")
    assert "sequenced 1 events; the tree holds 12" in sequenced.stdout
    heads = database.rows("SELECT tree_size, root_hash FROM portal_audittreehead")
    assert len(heads) == 1
    assert heads[0][0] == EVENTS + 1
    (after,) = database.rows("SELECT seq FROM portal_auditevent WHERE action = 'after'")
    assert after == (EVENTS + 1,)
    assert rfc9162.mth(documents) == bytes.fromhex(
        manage(
            database.url,
            "shell",
            "-c",
            f"from portal.audit_tree import root_at; print(root_at({EVENTS}).hex())",
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    verified = manage(database.url, "verify_audit")
    assert "audit log intact: 12 events, 12 in the tree, 1 signed tree heads verified" in (
        verified.stdout
    )


@pytest.mark.parametrize("damage", ["edited", "unlinked", "head"])
def test_a_broken_chain_stops_the_migration(database: Database, damage: str) -> None:
    manage(database.url, "migrate", "portal", "0002")
    events = chain(5)
    head_hash = None
    if damage == "edited":
        events[2]["document"]["data"]["n"] = 99  # stored content no longer matches its hash
    elif damage == "unlinked":
        events[3]["document"]["prev_hash"] = "f" * 64
        events[3]["hash"] = hashlib.sha256(rfc8785.dumps(events[3]["document"])).hexdigest()
    else:
        head_hash = "e" * 64
    database.write_chain(events, head_hash)

    refused = manage(database.url, "migrate", check=False)

    assert refused.returncode != 0
    assert "The audit chain is broken" in refused.stderr
    assert database.rows("SELECT COUNT(*) FROM portal_auditevent") == [(5,)]
