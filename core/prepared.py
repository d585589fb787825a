"""A `.values()` queryset compiled to SQL once per process, then run again with new arguments.

Issue 18: on the public lookup's hot path Django spent longer building and compiling some queries
(annotations with several subqueries: about 4 ms of CPU) than PostgreSQL spent answering them.
The queryset stays the one statement of what is read (the ORM, with its annotations defined where
the rule lives); only its compilation is kept. The builder is called once with stand-in arguments,
compiled, and each stand-in's place among the SQL's parameters is remembered; a call then swaps in
its own arguments and lets the compiler convert the rows (SQLite's dates, booleans) as `.values()`
would.

Only for querysets whose SQL does not depend on the arguments' values (a filter on a key, not
`__in` a list whose length varies): the stand-ins must each reach the parameters unchanged, which
`_compile` checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Any

from django.db import connections
from django.db.models import QuerySet

# No key is negative, so a stand-in never collides with a value; within a 32-bit integer, or Django
# compiles a filter on an `AutoField` with it to "nothing matches".
_INT_STAND_IN = -1_999_999_000
_STR_STAND_IN = "\x1fprepared-argument-"


class PreparedValues:
    """`PreparedValues(lambda pk: Model.objects.filter(pk=pk).values(...), int)` then `rows(pk)`:
    the rows as dicts, like iterating the `.values()` queryset built for `pk`."""

    def __init__(self, build: Callable[..., QuerySet], *kinds: type):
        if not kinds or any(kind not in (int, str) for kind in kinds):
            raise TypeError("PreparedValues: give the kind (int or str) of each argument of `build`")
        self.build, self.kinds = build, kinds
        self._compiled: dict[str, tuple] = {}
        self._lock = Lock()

    def rows(self, *args: Any, using: str = "default") -> list[dict[str, Any]]:
        if len(args) != len(self.kinds):
            raise TypeError(f"PreparedValues: {len(self.kinds)} argument(s) expected, {len(args)} given")
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile(using)
                self._compiled[using] = compiled
        compiler, sql, slots, names = compiled
        params = [args[slot.argument] if isinstance(slot, _Slot) else slot for slot in slots]
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return [dict(zip(names, row, strict=True)) for row in compiler.results_iter(results=[fetched])]

    def forget(self) -> None:
        """Compile again at the next call (the tests: a mutant of the builder must take effect)."""
        with self._lock:
            self._compiled.clear()

    def _compile(self, using: str) -> tuple:
        stand_ins = [
            _INT_STAND_IN - index if kind is int else f"{_STR_STAND_IN}{index}" for index, kind in enumerate(self.kinds)
        ]
        queryset = self.build(*stand_ins)
        query = queryset.query
        if not query.values_select and not query.annotation_select:
            raise TypeError("PreparedValues: `build` must return a `.values(...)` queryset")
        compiler = query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        slots = [_Slot(stand_ins.index(p)) if _is_stand_in(p, stand_ins) else p for p in params]
        missing = [i for i in range(len(stand_ins)) if _Slot(i) not in slots]
        if missing:
            raise TypeError(f"PreparedValues: argument(s) {missing} did not reach the SQL's parameters unchanged")
        names = list(query.selected) if query.selected else [*query.values_select, *query.annotation_select]
        return compiler, sql, slots, names


@dataclass(frozen=True)
class _Slot:
    """Where an argument goes among the SQL's parameters."""

    argument: int


def _is_stand_in(param: object, stand_ins: list) -> bool:
    return type(param) in (int, str) and param in stand_ins
