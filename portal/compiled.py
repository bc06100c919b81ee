"""Statements whose SQL is compiled once per process, and run afresh with each call's values.

Two reads run on every submission through the API: the token with its officer, user and
agency (``accounts.services.tokens``), and the signing key with the nonce's holder and
the policy rule (``requests_app.intake.channel``); and every page of the review queue
counts the overdue requests (``requests_app.review.selectors.overdue_count``). Building
such a queryset and compiling it to SQL cost more CPU than running it (bench/intake.py,
bench/review_queue.py): the ORM redoes the same work on every call for a statement that
differs only in its parameters.

One mechanism serves them: ``compiled_statement`` for any statement Django's SQL is part
of, ``compiled_first`` for a queryset's first row. The statement is compiled twice per
process, with placeholder values, other ones the second time; each parameter is then

- a value's slot: it was that value's placeholder both times (text and integers), and
  takes each call's value;
- a moment's slot: it moved with a moment's placeholder (an aware ``datetime``) by exactly
  the distance between its two placeholders, so it is that moment plus a fixed offset
  (``now - 30 days``), computed for each call's moment;
- a constant: the same both times.

A parameter that is none of these (a value changed on its way into the SQL: a ``LIKE``
pattern, a moment's date, the end of its day), a value the statement never takes, or SQL
that differs between the two: the statement is not compiled, and is built afresh on every
call, as the ORM would. A value of another kind than placeholders exist for (a boolean, a
float, a naive datetime), or of another kind than the statement was compiled with, is
refused with a ``TypeError`` naming it. (On SQLite Django sends a datetime as text: a
statement with a moment is not compiled there.)

``compiled_first`` makes the row into instances as the ORM's own iteration makes them
(the columns' converters, ``from_db``, the related rows of ``select_related``, the
annotations). On PostgreSQL its statement is also prepared on each connection that runs it
(a server-side prepared statement, made by its first run there): PostgreSQL then plans it
once per connection rather than on every call, and planning the token's four-table join
cost PostgreSQL more CPU than running it. The ORM's own statements are bound on the client
and never prepared. ``prepared_cursor`` gives such a cursor to other statements whose text
never changes (the review queue's counts).

Nothing read is cached, only the text of the statement: the row is read on every call,
so a token revoked or a key suspended a moment ago is seen by the very next one.
"""

import functools
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.query import get_related_populators

_compiled: dict[tuple[Any, ...], "_Statement | None"] = {}
_lock = threading.Lock()

# A moment's placeholder: the same in the first compiling for every moment, moved by a
# distance of its own (``_moment_shift``) in the second.
_MOMENT = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


def _moment_shift(index: int) -> timedelta:
    return timedelta(days=1001 + index, microseconds=7)


def _kind(name: str, value: Any) -> type:
    """The kind of slot ``value`` makes: ``int``, ``str`` or ``datetime`` (a moment)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: a boolean has no placeholder")
    if isinstance(value, int):
        return int
    if isinstance(value, str):
        return str
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError(f"{name}: a moment must be an aware datetime")
        return datetime
    raise TypeError(f"{name}: only text, integers and aware datetimes have placeholders")


def _placeholder(name: str, value: Any, index: int, second: bool) -> Any:
    """A value of ``value``'s kind that no real parameter equals, another one ``second``."""
    kind = _kind(name, value)
    if kind is int:
        # Within any integer column's range; no id is negative.
        return -2_000_000_000 - 1000 * second - index
    if kind is str:
        return f"~compiled-placeholder-{int(second)}-{index}-{name}~"
    return _MOMENT + _moment_shift(index) if second else _MOMENT


@dataclass(frozen=True)
class _Slot:
    """A parameter that takes the value named ``name``, wrapped as the ORM wrapped its
    placeholder (``Int8`` for a bigint column on psycopg 3), or as it is."""

    name: str
    wrap: Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Since:
    """A parameter that is the moment named ``name`` plus ``offset``."""

    name: str
    offset: timedelta


@dataclass(frozen=True)
class _Statement:
    """A compiled statement, and what else compiling it gave its user."""

    sql: str
    slots: list[Any]  # per parameter: a ``_Slot``, a ``_Since``, or a constant
    kinds: tuple[tuple[str, type], ...]  # each value's name and kind
    made: Any  # compiled_first: the ``_Rows`` its row becomes instances by

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """The parameters for this call's ``values``."""
        for name, kind in self.kinds:
            if _kind(name, values[name]) is not kind:
                raise TypeError(
                    f"{name}: the statement was compiled for {kind.__name__}, "
                    f"not {type(values[name]).__name__}"
                )
        params = []
        for slot in self.slots:
            if isinstance(slot, _Slot):
                value = values[slot.name]
                params.append(slot.wrap(value) if slot.wrap else value)
            elif isinstance(slot, _Since):
                params.append(values[slot.name] + slot.offset)
            else:
                params.append(slot)
        return params


# A statement's compiling: its SQL, its parameters and what else its user keeps; ``None``
# when it cannot be compiled once.
type _Compile = Callable[..., tuple[str, Sequence[Any], Any] | None]


def _compile(compile: _Compile, values: Mapping[str, Any]) -> _Statement | None:
    """``compile`` at two sets of placeholders, and where each value is among the
    parameters; ``None`` if a parameter is neither a value's nor a constant, a value is
    not a parameter, or the SQL differs."""
    names = list(values)
    kinds = tuple((name, _kind(name, values[name])) for name in names)
    placeholders = [
        {name: _placeholder(name, values[name], i, second) for i, name in enumerate(names)}
        for second in (False, True)
    ]
    first, again = compile(**placeholders[0]), compile(**placeholders[1])
    if first is None or again is None:
        return None
    (sql, params, made), (sql_again, params_again, _) = first, again
    if sql != sql_again or len(params) != len(params_again):
        return None
    exact = [
        {value: name for name, value in chosen.items() if not isinstance(value, datetime)}
        for chosen in placeholders
    ]
    moments = {_moment_shift(i): name for i, (name, kind) in enumerate(kinds) if kind is datetime}
    slots: list[Any] = []
    seen = set()
    for a, b in zip(params, params_again, strict=True):
        if isinstance(a, int | str) and isinstance(b, int | str):
            name = exact[0].get(a)
            if name is not None and exact[1].get(b) == name:
                seen.add(name)
                kind = type(a)
                slots.append(_Slot(name, None if kind in (int, str) else kind))
                continue
        if isinstance(a, datetime) and isinstance(b, datetime):
            name = moments.get(b - a)
            if name is not None:
                seen.add(name)
                slots.append(_Since(name, a - _MOMENT))
                continue
        if type(a) is type(b) and a == b:
            slots.append(a)
            continue
        return None
    if seen != set(names):
        return None
    return _Statement(sql=sql, slots=slots, kinds=kinds, made=made)


def _statement(
    key: Hashable, compile: _Compile, values: Mapping[str, Any], using: str
) -> _Statement | None:
    """The statement compiled once per ``key`` and database, or ``None`` if it cannot be."""
    connection = connections[using]
    cache_key = (key, connection.vendor, connection.settings_dict.get("NAME"))
    if cache_key in _compiled:
        return _compiled[cache_key]
    with _lock:
        compiled = _compiled[cache_key] = _compile(compile, values)
    return compiled


def compiled_statement(
    key: Hashable,
    build: Callable[..., tuple[str, Sequence[Any]]],
    values: Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[str, list[Any]]:
    """``build(**values)``, a statement and its parameters, with ``build`` run only to
    compile the statement once per ``key`` and database; the caller runs it.

    ``build`` must make the same SQL for any values of the same kinds (text, integers,
    aware datetimes), with each value a parameter of its own and each datetime parameter
    a moment plus a fixed offset; otherwise it is run on every call.
    """

    def compile(**chosen: Any) -> tuple[str, Sequence[Any], None]:
        sql, params = build(**chosen)
        return sql, params, None

    compiled = _statement(key, compile, values, using)
    if compiled is None:
        sql, params = build(**values)
        return sql, list(params)
    return compiled.sql, compiled.params(values)


@dataclass(frozen=True)
class _Rows:
    """How a compiled queryset's row becomes instances, as the ORM would make them."""

    model: type[models.Model]
    init_list: list[str]  # the model's attribute names, in the order of their columns
    fields: slice  # where the model's columns are in the row
    klass_info: dict[str, Any]
    select: list[Any]
    related: list[Any] | None  # Django's populators of the select_related rows (stateless)
    annotations: dict[str, int]  # annotation name -> its column
    converters: dict[int, tuple[list[Any], Any]]  # column -> (converters, expression)
    fetch_mode: Any


def _first_compile(
    queryset: models.QuerySet[Any], using: str
) -> tuple[str, Sequence[Any], _Rows] | None:
    """The statement of ``queryset[:1]`` and how its row becomes instances."""
    queryset = queryset[:1]
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    klass_info = compiler.klass_info
    if klass_info is None:
        return None
    select = compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    fetch_mode = queryset._fetch_mode  # type: ignore[attr-defined]  # (what ModelIterable reads)
    return (
        sql,
        params,
        _Rows(
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
        ),
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


def prepared_cursor(connection: BaseDatabaseWrapper) -> Any:
    """A cursor of ``connection`` whose statements PostgreSQL prepares, in Django's
    wrapper (logged, and run through the connection's execute wrappers, as any other).
    Elsewhere, the connection's own cursor.

    For a statement run with every page or call whose text never changes, only its
    values: ``compiled_first``'s, and the review queue's counts. Its ``%s`` placeholders
    are bound on the server, so its values are only ever values (a statement whose text
    embeds one would be prepared anew for each)."""
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
    queryset's SQL compiled once per ``key`` and database (``compiled_statement``'s rules).

    ``build`` must make the same statement for any values of the same kinds; it may
    ``select_related`` and ``annotate``. Without an ordering the first row is any row:
    ``build`` should order, or select by a unique column. The row becomes instances as the
    ORM's own iteration makes them.
    """
    compiled = _statement(
        key, lambda **chosen: _first_compile(build(**chosen), using), values, using
    )
    if compiled is None:
        return next(iter(build(**values)[:1]), None)
    params = compiled.params(values)
    rows: _Rows = compiled.made
    connection = connections[using]
    with prepared_cursor(connection) as cursor:
        cursor.execute(compiled.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    columns = list(row)
    for position, (converters, expression) in rows.converters.items():
        value = columns[position]
        for converter in converters:
            value = converter(value, expression, connection)
        columns[position] = value
    found: M = rows.model.from_db(  # type: ignore[assignment]
        using, rows.init_list, columns[rows.fields], fetch_mode=rows.fetch_mode
    )
    if rows.fetch_mode.track_peers:
        found._state.peers = [weakref.ref(found)]  # type: ignore[attr-defined]
    related = rows.related
    if related is None:
        related = get_related_populators(rows.klass_info, rows.select, using, rows.fetch_mode)
    for populator in related:
        populator.populate(columns, found)
    for name, position in rows.annotations.items():
        setattr(found, name, columns[position])
    return found
