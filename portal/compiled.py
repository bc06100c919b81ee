"""Reads whose SQL is compiled once per process, and run afresh with each call's values.

Two reads run on every submission through the API: the token with its officer, user and
agency (``accounts.services.tokens``), and the signing key with the nonce's holder and
the policy rule (``requests_app.intake.channel``). Building such a queryset and compiling
it to SQL cost more CPU than running it (bench/intake.py): the ORM redoes the same work
on every call for a statement that differs only in its parameters. ``compiled_first``
compiles the queryset once, with placeholder values whose positions among the parameters
it then knows, and afterwards sends the same SQL with each call's values; the row becomes
instances as the ORM's own iteration makes them (the columns' converters, ``from_db``,
the related rows of ``select_related``, the annotations).

On PostgreSQL the statement is also prepared on each connection that runs it (a
server-side prepared statement, made by its first run there): PostgreSQL then plans it
once per connection rather than on every call, and planning the token's four-table join
cost PostgreSQL more CPU than running it. The ORM's own statements are bound on the
client and never prepared.

Nothing read is cached, only the text of the statement: the row is read on every call,
so a token revoked or a key suspended a moment ago is seen by the very next one.
"""

import functools
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query import get_related_populators

_compiled: dict[tuple[Any, ...], "_Statement | None"] = {}
_lock = threading.Lock()


def _placeholder(name: str, value: Any, index: int) -> Any:
    """A value of ``value``'s type that no real parameter equals."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: a boolean has no placeholder")
    if isinstance(value, int):
        return -2_000_000_000 - index  # within any integer column's range; no id is negative
    if isinstance(value, str):
        return f"~compiled-placeholder-{index}-{name}~"
    raise TypeError(f"{name}: only text and integers have placeholders")


@dataclass(frozen=True)
class _Slot:
    """A parameter that takes the value named ``name``, wrapped as the ORM wrapped its
    placeholder (``Int8`` for a bigint column on psycopg 3), or as it is."""

    name: str
    wrap: Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Statement:
    """A compiled statement and how its row becomes instances, as the ORM would make them."""

    sql: str
    slots: list[Any]  # per parameter: a ``_Slot``, or a constant
    model: type[models.Model]
    init_list: list[str]  # the model's attribute names, in the order of their columns
    fields: slice  # where the model's columns are in the row
    klass_info: dict[str, Any]
    select: list[Any]
    related: list[Any] | None  # Django's populators of the select_related rows (stateless)
    annotations: dict[str, int]  # annotation name -> its column
    converters: dict[int, tuple[list[Any], Any]]  # column -> (converters, expression)
    fetch_mode: Any


def _compile(
    build: Callable[..., models.QuerySet[Any]], values: Mapping[str, Any], using: str
) -> "_Statement | None":
    """The statement of ``build(**placeholders)[:1]``; ``None`` if a placeholder was not
    found as a parameter of its own (then the caller runs the queryset as it is)."""
    placeholders = {name: _placeholder(name, v, i) for i, (name, v) in enumerate(values.items())}
    queryset = build(**placeholders)[:1]
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    by_value = {placeholder: name for name, placeholder in placeholders.items()}
    slots: list[Any] = []
    seen = set()
    for param in params:
        name = by_value.get(param) if isinstance(param, int | str) else None
        if name is None:
            slots.append(param)
            continue
        seen.add(name)
        kind = type(param)
        slots.append(_Slot(name, None if kind in (int, str) else kind))
    klass_info = compiler.klass_info
    if seen != set(placeholders) or klass_info is None:
        return None
    select = compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]  # (what ModelIterable reads)
    return _Statement(
        sql=sql,
        slots=slots,
        model=klass_info["model"],
        init_list=[column[0].target.attname for column in select[start:end]],
        fields=slice(start, end),
        klass_info=klass_info,
        select=select,
        # With peers tracked a populator keeps a list of its rows' peers: made per call then.
        related=(
            None
            if fetch_mode.track_peers
            else get_related_populators(klass_info, select, using, fetch_mode)
        ),
        annotations=dict(compiler.annotation_col_map or {}),
        converters=compiler.get_converters([column[0] for column in select]),
        fetch_mode=fetch_mode,
    )


@functools.cache
def _prepared_cursor_class() -> type:
    import psycopg

    class PreparedCursor(psycopg.Cursor[Any]):
        """Server-side binding, every statement prepared at its first run on a connection
        (psycopg keeps the connection's prepared statements, and drops them with it)."""

        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            return super().execute(query, params, prepare=True, **options)

    return PreparedCursor


def _prepared_cursor(connection: BaseDatabaseWrapper) -> Any:
    """A cursor of ``connection`` whose statements PostgreSQL prepares, in Django's
    wrapper (logged, and run through the connection's execute wrappers, as any other).
    Elsewhere, the connection's own cursor."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        raw = _prepared_cursor_class()(connection.connection)
    if connection.queries_logged:
        return _debug_wrapper_class()(raw, connection)
    return connection.make_cursor(raw)


@functools.cache
def _debug_wrapper_class() -> type:
    from django.db.backends.postgresql.base import CursorDebugWrapper
    from django.db.backends.utils import CursorWrapper

    class PreparedDebugWrapper(CursorDebugWrapper):
        """Logs the statement with its values written in, as the ORM's own statements are
        logged (psycopg keeps no such text of a statement it sent with parameters)."""

        def execute(self, sql: Any, params: Any = None) -> Any:
            with self.debug_sql(self.db.ops.compose_sql(sql, params)):
                return CursorWrapper.execute(self, sql, params)

    return PreparedDebugWrapper


def compiled_first[M: models.Model](
    key: Hashable,
    build: Callable[..., models.QuerySet[M]],
    values: Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> M | None:
    """The first row of ``build(**values)[:1]`` as a model instance, or ``None``, with the
    queryset's SQL compiled once per ``key`` and database.

    ``build`` must make the same statement for any values of the same types (text and
    integers only); it may ``select_related`` and ``annotate``. Without an ordering the
    first row is any row: ``build`` should order, or select by a unique column. The row
    becomes instances as the ORM's own iteration makes them.
    """
    connection = connections[using]
    cache_key = (key, connection.vendor, connection.settings_dict.get("NAME"))
    if cache_key in _compiled:
        compiled = _compiled[cache_key]
    else:
        with _lock:
            compiled = _compiled[cache_key] = _compile(build, values, using)
    if compiled is None:
        return next(iter(build(**values)[:1]), None)
    params = [
        (s.wrap(values[s.name]) if s.wrap else values[s.name]) if isinstance(s, _Slot) else s
        for s in compiled.slots
    ]
    with _prepared_cursor(connection) as cursor:
        cursor.execute(compiled.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    columns = list(row)
    for position, (converters, expression) in compiled.converters.items():
        value = columns[position]
        for converter in converters:
            value = converter(value, expression, connection)
        columns[position] = value
    found: M = compiled.model.from_db(  # type: ignore[assignment]
        using, compiled.init_list, columns[compiled.fields], fetch_mode=compiled.fetch_mode
    )
    if compiled.fetch_mode.track_peers:
        found._state.peers = [weakref.ref(found)]  # type: ignore[attr-defined]
    related = compiled.related
    if related is None:
        related = get_related_populators(
            compiled.klass_info, compiled.select, using, compiled.fetch_mode
        )
    for populator in related:
        populator.populate(columns, found)
    for name, position in compiled.annotations.items():
        setattr(found, name, columns[position])
    return found
