# ruff: noqa: S608  (SQL built from the fixed table and column names above; no parameters)
"""Triggers that mark what the report's rollups must fold again (rollups.py).

Every insert, update or delete of a legal request, its review row, its targets, its
decisions or its disclosures marks the request in ``transparency_pendingrequest``; every
change to the intake rejections marks the month of the rejection (before and after) in
``transparency_pendingrejectionmonth``. On PostgreSQL the triggers run once per
statement over its transition tables (a bulk load pays one insert per statement, not per
row); on SQLite (``make run``, tests) once per row. The rows already in the database are
marked too, so that the first fold builds the rollups.
"""

from django.db import migrations

# table -> the column naming the legal request
REQUEST_TABLES = {
    "requests_app_legalrequest": "id",
    "requests_app_reviewstate": "request_id",
    "requests_app_requesttarget": "request_id",
    "requests_app_decision": "request_id",
    "requests_app_disclosure": "request_id",
}
REJECTIONS = "requests_app_intakerejection"
PENDING = "transparency_pendingrequest"
PENDING_MONTHS = "transparency_pendingrejectionmonth"


def _pg_month(column: str) -> str:
    return (
        f"(EXTRACT(YEAR FROM {column} AT TIME ZONE 'UTC')::int * 12"
        f" + EXTRACT(MONTH FROM {column} AT TIME ZONE 'UTC')::int - 1)"
    )


def _sqlite_month(column: str) -> str:
    # Django keeps SQLite datetimes as UTC text: "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return (
        f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12"
        f" + CAST(substr({column}, 6, 2) AS INTEGER) - 1)"
    )


def _postgresql() -> tuple[list[str], list[str]]:
    create = []
    drop = []
    for table, column in REQUEST_TABLES.items():
        function = f"transparency_mark_{table}"
        create.append(
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') THEN
                    INSERT INTO {PENDING} (request_id) SELECT DISTINCT {column} FROM old_rows;
                END IF;
                IF TG_OP IN ('INSERT', 'UPDATE') THEN
                    INSERT INTO {PENDING} (request_id) SELECT DISTINCT {column} FROM new_rows;
                END IF;
                RETURN NULL;
            END $$"""
        )
        for event, referencing in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            name = f"transparency_{table}_{event.lower()}"
            create.append(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
            drop.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        drop.append(f"DROP FUNCTION IF EXISTS {function}()")
    function = "transparency_mark_rejections"
    create.append(
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                INSERT INTO {PENDING_MONTHS} (month) SELECT DISTINCT {_pg_month("at")}
                FROM old_rows;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO {PENDING_MONTHS} (month) SELECT DISTINCT {_pg_month("at")}
                FROM new_rows;
            END IF;
            RETURN NULL;
        END $$"""
    )
    for event, referencing in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        name = f"transparency_{REJECTIONS}_{event.lower()}"
        create.append(
            f"CREATE TRIGGER {name} AFTER {event} ON {REJECTIONS} REFERENCING {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )
        drop.append(f"DROP TRIGGER IF EXISTS {name} ON {REJECTIONS}")
    drop.append(f"DROP FUNCTION IF EXISTS {function}()")
    return create, drop


def _sqlite() -> tuple[list[str], list[str]]:
    create = []
    drop = []
    for table, column in REQUEST_TABLES.items():
        for event, rows in (
            ("INSERT", ("NEW",)),
            ("UPDATE", ("OLD", "NEW")),
            ("DELETE", ("OLD",)),
        ):
            name = f"transparency_{table}_{event.lower()}"
            body = " ".join(
                f"INSERT INTO {PENDING} (request_id) VALUES ({row}.{column});" for row in rows
            )
            create.append(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {body} END")
            drop.append(f"DROP TRIGGER IF EXISTS {name}")
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        name = f"transparency_{REJECTIONS}_{event.lower()}"
        body = " ".join(
            f"INSERT INTO {PENDING_MONTHS} (month) VALUES ({_sqlite_month(f'{row}.at')});"
            for row in rows
        )
        create.append(f"CREATE TRIGGER {name} AFTER {event} ON {REJECTIONS} BEGIN {body} END")
        drop.append(f"DROP TRIGGER IF EXISTS {name}")
    return create, drop


def statements(vendor: str) -> tuple[list[str], list[str]]:
    """(create, drop) for a database vendor; nothing for any other."""
    if vendor == "postgresql":
        return _postgresql()
    if vendor == "sqlite":
        return _sqlite()
    return [], []


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    create, _ = statements(vendor)
    for statement in create:
        schema_editor.execute(statement, params=None)
    month = _pg_month("at") if vendor == "postgresql" else _sqlite_month("at")
    # What is already there: folded by the first fold.
    schema_editor.execute(
        f"INSERT INTO {PENDING} (request_id) SELECT id FROM requests_app_legalrequest",
        params=None,
    )
    schema_editor.execute(
        f"INSERT INTO {PENDING_MONTHS} (month) SELECT DISTINCT {month} FROM {REJECTIONS}",
        params=None,
    )


def triggers_drop(apps, schema_editor):
    _, drop = statements(schema_editor.connection.vendor)
    for statement in drop:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("transparency", "0004_rollups"),
        ("requests_app", "0014_on_call_reviewers"),
    ]

    operations = [migrations.RunPython(triggers_create, triggers_drop)]
