"""SQL pieces the report's figures are counted with, shared by the raw aggregate
(``figures.py``) and the rollups that keep them (``rollups.py``): both must count the same
thing the same way, on SQLite and on PostgreSQL.
"""

from typing import Any

from django.db import NotSupportedError
from django.db.models import (
    BooleanField,
    Expression,
    F,
    FloatField,
    Func,
    OuterRef,
    QuerySet,
    Value,
)
from django.db.models.functions import Concat, Lower

from requests_app.delivery.models import Disclosure
from requests_app.lifecycle.models import LegalRequest

S = LegalRequest.Status
# The deadline clock runs in these states; awaiting clarification it stands still.
CLOCK_RUNNING = (S.RECEIVED, S.IN_REVIEW)


class _PostgresOrSqlite(Func):
    """A function written out for PostgreSQL and SQLite (``as_postgresql``, ``as_sqlite``)."""

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra: Any,
    ) -> Any:
        raise NotSupportedError(f"{type(self).__name__} is written for SQLite and PostgreSQL only.")


class SecondsBetween(_PostgresOrSqlite):
    """Seconds from the second timestamp to the first (``later - earlier``).

    To the microsecond on PostgreSQL, to the second on SQLite (development and tests).
    """

    arity = 2
    output_field = FloatField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return Func.as_sql(  # Django's own rendering, with this template
            self,
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::double precision",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Django stores SQLite datetimes as UTC text, which strftime('%s') reads to the
        # second; "%%" because the backend turns "%%" into "%" with the parameters.
        later, earlier = (compiler.compile(e) for e in self.get_source_expressions())
        sql = (
            f"(CAST(strftime('%%s', {later[0]}) AS REAL)"
            f" - CAST(strftime('%%s', {earlier[0]}) AS REAL))"
        )
        return sql, (*later[1], *earlier[1])


class JsonArrayHas(_PostgresOrSqlite):
    """True when a JSON array column holds the given number (an id)."""

    arity = 2
    output_field = BooleanField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # A JSON array contains a bare number it holds (jsonb containment's array rule).
        array, item = (compiler.compile(e) for e in self.get_source_expressions())
        return f"({array[0]} @> to_jsonb({item[0]}))", (*array[1], *item[1])

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        array, item = (compiler.compile(e) for e in self.get_source_expressions())
        # S608: both parts are SQL compiled by Django from expressions; their parameters
        # are passed on, never spliced in; no user text.
        sql = f"EXISTS (SELECT 1 FROM json_each({array[0]}) WHERE json_each.value = {item[0]})"  # noqa: S608
        return sql, (*array[1], *item[1])


def seconds_to_answer() -> Expression:
    """Receipt to decision, less the time the clock stood still for a clarification."""
    return SecondsBetween(F("review__decided_at"), F("received_at")) - F("review__paused_seconds")


def sealed_disclosure() -> QuerySet[Disclosure]:
    """A sealed disclosure of the outer request (for ``Exists``)."""
    return Disclosure.objects.filter(request=OuterRef("pk"), state=Disclosure.State.SEALED)


def account_key() -> Expression:
    """A target's account: its type and value, the value compared without regard to case."""
    return Concat("type", Value(":"), Lower("value"))
