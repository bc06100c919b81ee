"""Migration operations that keep the portal taking submissions while they run.

``CREATE INDEX`` holds a lock that blocks every write to its table until the index is
built: on a table of a million rows, seconds in which no submission is stored. On
PostgreSQL ``IndexConcurrently`` builds the index with ``CREATE INDEX CONCURRENTLY``
(Django's own ``AddIndexConcurrently``), which lets writes go on; elsewhere (the
development server's SQLite) it is a plain ``AddIndex``. A migration that uses it must
say ``atomic = False``: PostgreSQL builds such an index outside a transaction.

If the build fails half-way, PostgreSQL leaves an index marked invalid under the same
name: drop it (``DROP INDEX CONCURRENTLY <name>``) and migrate again.
"""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddIndex


class IndexConcurrently(AddIndexConcurrently):
    """``AddIndexConcurrently`` on PostgreSQL, ``AddIndex`` on any other database."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)
