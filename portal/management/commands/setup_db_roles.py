"""Create the portal's two PostgreSQL roles and give each exactly its rights.

- the **owner** owns the database's schema, tables, sequences and functions: migrations
  run as it. It is the only role (besides superusers) that could disable the audit
  tables' triggers: keep its credentials with the people who deploy, not in the portal.
- the **runtime** role is what the web and Celery processes log in as: SELECT, INSERT,
  UPDATE and DELETE on the portal's tables, but on the audit tables (events, leaves,
  subtree hashes, tree heads, publications) SELECT and INSERT only: no UPDATE, DELETE,
  TRUNCATE, REFERENCES or TRIGGER. The sequencer needs nothing more: it only inserts
  (leaves, nodes and heads are rows of their own, never an update of an event).

Run it as a superuser after every ``migrate`` (new tables get no rights until it runs:
a forgotten run fails loudly rather than granting too much). Idempotent.

    DATABASE_URL=postgres://postgres@db/portal python manage.py setup_db_roles \\
        --owner portal_owner --runtime portal_app --runtime-password-env PORTAL_DB_PASSWORD
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from portal.models import AuditEvent, AuditLeaf, AuditNode, AuditPublication, AuditTreeHead

AUDIT_TABLES = [
    model._meta.db_table
    for model in (AuditEvent, AuditLeaf, AuditNode, AuditTreeHead, AuditPublication)
]
READ_ONLY_TABLES = ["django_migrations"]


class Command(BaseCommand):
    help = "Create the owner and runtime roles (PostgreSQL) and grant each its rights."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--owner", required=True, help="role that owns the schema (migrations)")
        parser.add_argument("--runtime", required=True, help="role the portal's processes use")
        parser.add_argument(
            "--owner-password-env", metavar="VAR", help="set the owner's password from $VAR"
        )
        parser.add_argument(
            "--runtime-password-env", metavar="VAR", help="set the runtime's password from $VAR"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("setup_db_roles is for PostgreSQL (DATABASE_URL=postgres://...).")
        owner, runtime = options["owner"], options["runtime"]
        if owner == runtime:
            raise CommandError("The owner and the runtime role must be two different roles.")
        with transaction.atomic(), connection.cursor() as cursor:
            for role, variable in (
                (owner, options["owner_password_env"]),
                (runtime, options["runtime_password_env"]),
            ):
                self._role_ensure(cursor, role, variable)
            self._refuse_unsafe_runtime(cursor, owner, runtime)
            self._give_ownership(cursor, owner)
            self._grant_runtime(cursor, owner, runtime)
        self.stdout.write(
            f"owner {owner} owns the schema; runtime {runtime} may SELECT and INSERT on "
            f"{', '.join(AUDIT_TABLES)} and nothing more there."
        )

    def _sql(self, template: str, *identifiers: str, literal: str | None = None) -> str:
        from psycopg import sql

        parts: list[Any] = [sql.Identifier(name) for name in identifiers]
        if literal is not None:
            parts.append(sql.Literal(literal))
        return sql.SQL(template).format(*parts).as_string(connection.connection)

    def _role_ensure(self, cursor: Any, role: str, variable: str | None) -> None:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(self._sql("CREATE ROLE {} LOGIN", role))
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(f"${variable} is empty: no password set for {role}.")
            cursor.execute(self._sql("ALTER ROLE {} PASSWORD {}", role, literal=password))

    def _refuse_unsafe_runtime(self, cursor: Any, owner: str, runtime: str) -> None:
        cursor.execute(
            "SELECT rolsuper OR rolbypassrls OR rolcreaterole, pg_has_role(%s, %s, 'MEMBER') "
            "FROM pg_roles WHERE rolname = %s",
            [runtime, owner, runtime],
        )
        privileged, member = cursor.fetchone()
        if privileged or member:
            raise CommandError(
                f"The runtime role {runtime} is a superuser, may create roles or bypass row "
                f"security, or is a member of {owner}: no grant would limit it."
            )

    def _give_ownership(self, cursor: Any, owner: str) -> None:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
        cursor.execute(self._sql("ALTER DATABASE {} OWNER TO {}", database, owner))
        cursor.execute(self._sql("ALTER SCHEMA public OWNER TO {}", owner))
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind IN ('r', 'p', 'v', 'm')"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(self._sql("ALTER TABLE public.{} OWNER TO {}", table, owner))
        # Sequences owned by a column move with their table; the others move here.
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace "
            "AND c.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            "WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        )
        for (sequence,) in cursor.fetchall():
            cursor.execute(self._sql("ALTER SEQUENCE public.{} OWNER TO {}", sequence, owner))
        # Functions (the audit triggers', the transparency report's): by name and
        # argument types, which only the server can spell; the owner goes in a setting.
        cursor.execute("SELECT set_config('portal.setup_owner', %s, true)", [owner])
        cursor.execute(
            "DO $$ DECLARE f regprocedure; BEGIN "
            "FOR f IN SELECT p.oid::regprocedure FROM pg_proc p "
            "WHERE p.pronamespace = 'public'::regnamespace LOOP "
            "EXECUTE format('ALTER FUNCTION %s OWNER TO %I', f, "
            "current_setting('portal.setup_owner')); END LOOP; END $$"
        )

    def _grant_runtime(self, cursor: Any, owner: str, runtime: str) -> None:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
        cursor.execute(
            self._sql("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}", database, runtime)
        )
        cursor.execute(self._sql("GRANT USAGE ON SCHEMA public TO {}", runtime))
        cursor.execute(self._sql("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}", runtime))
        cursor.execute(
            self._sql(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
                runtime,
            )
        )
        for table in [*AUDIT_TABLES, *READ_ONLY_TABLES]:
            cursor.execute(self._sql("REVOKE ALL ON TABLE public.{} FROM {}", table, runtime))
            cursor.execute(self._sql("GRANT SELECT ON TABLE public.{} TO {}", table, runtime))
        for table in AUDIT_TABLES:
            cursor.execute(self._sql("GRANT INSERT ON TABLE public.{} TO {}", table, runtime))
        cursor.execute(self._sql("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}", runtime))
        cursor.execute(
            self._sql("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}", runtime)
        )
