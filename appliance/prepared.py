"""Statements peewee composes once per shape; later calls only bind new values.

Composing a query (peewee's node tree to SQL text) costs more Python time than a small
aggregate costs the database. A `Prepared` statement is built once per key (the query's shape:
which conditions are present, how many buckets) with marker values standing in for the
caller's, under a marker practice scope, so the text and the place of every value are known;
each later call swaps the markers in the parameter list for the real values. Tenancy is the
models' as always: the practice filter TenantModel adds is part of the composed text, and its
value is the scope's practice at the time of the call.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Hashable, Sequence

import peewee

from appliance import tenancy

#: The SQL text and, per parameter, the index of the caller's value (-1: the scope's practice)
#: or None and the constant peewee composed.
Compiled = tuple[str, list[tuple[int | None, object]]]
#: The scope's practice while a statement is composed; its hex form marks where it goes.
_PRACTICE_MARKER = uuid.UUID(int=0x5E7)


def _marker(index: int, value: object) -> object:
    """A stand-in of the value's type that no caller passes (year 1, microsecond = index)."""
    if isinstance(value, dt.datetime):
        return dt.datetime(1, 1, 1, microsecond=index + 1)
    raise TypeError(f"no marker for {type(value).__name__}: pass it in the key instead")


class Prepared:
    def __init__(self, build: Callable[..., peewee.Query]):
        """`build(key, *values)` returns the query of that shape for these values; it is
        called once per key and must depend on nothing else (not on the first caller's state)."""
        self._build = build
        self._compiled: dict[Hashable, Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, key: Hashable, scoped: bool, values: Sequence[object]) -> Compiled:
        markers = [_marker(i, v) for i, v in enumerate(values)]
        context = (tenancy.practice_scope(_PRACTICE_MARKER) if scoped
                   else tenancy.unscoped("composing a statement for a caller without a practice"))
        with context:
            sql, params = self._build(key, *markers).sql()
        where = {marker: i for i, marker in enumerate(markers)}
        template: list[tuple[int | None, object]] = []
        for param in params:
            if param == _PRACTICE_MARKER.hex:
                template.append((-1, None))
            elif isinstance(param, dt.datetime) and param in where:
                template.append((where[param], None))
            else:
                template.append((None, param))
        return sql, template

    def execute(self, database: peewee.Database, key: Hashable, *values: object):
        """The cursor of the statement for `key` with `values` bound, in the current scope."""
        practice = tenancy.current()  # raises outside any scope, as the models do
        scoped = (key, practice is not None)  # with or without the practice filter
        compiled = self._compiled.get(scoped)
        if compiled is None:
            compiled = self._compile(key, practice is not None, values)
            with self._lock:
                self._compiled[scoped] = compiled
        sql, template = compiled
        params = [(practice.hex if index == -1 else values[index]) if index is not None else constant
                  for index, constant in template]
        return database.execute_sql(sql, params)
