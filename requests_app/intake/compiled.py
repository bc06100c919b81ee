"""A query whose SQL is compiled once per process and run with each request's values.

Intake reads the sender's key with the nonce's holder and the policy rule in one
statement (``channel.api_sender``). Building that queryset and compiling it to SQL cost
more CPU than running it (bench/intake.py): the ORM redoes the same work on every request
for a statement that differs only in its parameters. ``first_compiled`` compiles the
queryset once, with placeholder values whose positions among the parameters it then
knows, and afterwards sends the same SQL with the request's values. The statement still
runs on every request: nothing read is cached, only the text of the query.
"""

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections, models

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
class _Statement:
    """A compiled statement and how its row becomes an instance, as the ORM would make it."""

    sql: str
    slots: list[Any]  # per parameter: the name of the value it takes, or a constant
    init_list: list[str]  # the model's attribute names, in the order of their columns
    fields: slice  # where the model's columns are in the row
    annotations: dict[str, int]  # annotation name -> its column
    converters: dict[int, tuple[list[Any], Any]]  # column -> (converters, expression)


def _compile(
    build: Callable[..., models.QuerySet[Any]], values: Mapping[str, Any], using: str
) -> _Statement | None:
    """The statement of ``build(**placeholders)[:1]``; ``None`` if a placeholder was not
    found as a parameter of its own, or the queryset reads related rows as well (then the
    caller runs the queryset as it is)."""
    placeholders = {name: _placeholder(name, v, i) for i, (name, v) in enumerate(values.items())}
    queryset = build(**placeholders)[:1]
    compiler = queryset.query.get_compiler(using=using)
    sql, params = compiler.as_sql()
    by_value = {placeholder: name for name, placeholder in placeholders.items()}
    slots: list[Any] = []
    seen = set()
    for param in params:
        name = by_value.get(param) if isinstance(param, int | str) else None
        if name is not None:
            seen.add(name)
            slots.append(_Slot(name))
        else:
            slots.append(param)
    klass_info = compiler.klass_info
    if seen != set(placeholders) or klass_info is None or klass_info.get("related_klass_infos"):
        return None
    select = compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _Statement(
        sql=sql,
        slots=slots,
        init_list=[column[0].target.attname for column in select[start:end]],
        fields=slice(start, end),
        annotations=dict(compiler.annotation_col_map or {}),
        converters=compiler.get_converters([column[0] for column in select]),
    )


class _Slot:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def first_compiled[M: models.Model](
    key: Any,
    model: type[M],
    build: Callable[..., models.QuerySet[M]],
    values: Mapping[str, Any],
    *,
    json_columns: tuple[str, ...] = (),
    using: str = "default",
) -> M | None:
    """``build(**values).first()``-like: the first row of ``build(**values)[:1]`` as a
    model instance, with the queryset's SQL compiled once per ``key`` and database.

    ``build`` must make the same statement for any values of the same types (text and
    integers only), and read one model's rows (no ``select_related``); ``json_columns``
    are annotations holding JSON, decoded here if the database gave them as text. Without
    an ordering the first row is any row, as with ``first()`` on an unordered queryset it
    is the lowest key: ``build`` should order. The row becomes an instance as the ORM's
    own iteration makes it (the columns' converters, ``from_db``, the annotations).
    """
    connection = connections[using]
    cache_key = (key, connection.vendor, connection.settings_dict.get("NAME"))
    if cache_key not in _compiled:
        with _lock:
            _compiled[cache_key] = _compile(build, values, using)
    compiled = _compiled[cache_key]
    if compiled is None:
        found = build(**values)[:1]
        rows = list(found)
        row = rows[0] if rows else None
    else:
        params = [values[s.name] if isinstance(s, _Slot) else s for s in compiled.slots]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            values_read = cursor.fetchone()
        if values_read is None:
            return None
        columns = list(values_read)
        for position, (converters, expression) in compiled.converters.items():
            value = columns[position]
            for converter in converters:
                value = converter(value, expression, connection)
            columns[position] = value
        row = model.from_db(using, compiled.init_list, columns[compiled.fields])
        for name, position in compiled.annotations.items():
            setattr(row, name, columns[position])
    if row is not None:
        for column in json_columns:
            value = getattr(row, column, None)
            if isinstance(value, str | bytes | bytearray):
                setattr(row, column, json.loads(value))
    return row
