"""Hot statements compiled once and run on the driver's cursor.

`Connection.execute` spends more on bookkeeping than SQLite spends on a small write: a
cache key, a compiled-cache lookup, an execution context, parameter processing, a
result object. The store's hottest statements (a submit, a claim, a status change)
take this shorter path: the statement is compiled once per set of parameter names, and
each call applies the compiled form's own bind processors (times, JSON, booleans: the
same conversions `execute` makes, so rows read back the same) and hands the driver the
SQL string and its parameters. Driver errors come out as SQLAlchemy's (IntegrityError
and the rest), as they do from `execute`; a lost connection is invalidated, so the pool
does not hand it out again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.crud import REQUIRED  # a column value the caller must give
from sqlalchemy.sql.elements import ClauseElement


class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    __slots__ = ("defaults", "positions", "processors", "sql")

    def __init__(self, compiled: SQLCompiler) -> None:
        if "POSTCOMPILE" in compiled.string:  # an expanding IN needs `execute`'s own pass
            raise ValueError(f"not preparable (expanding parameter): {compiled.string}")
        if compiled.escaped_bind_names:
            raise ValueError(f"not preparable (escaped parameter names): {compiled.string}")
        self.sql = compiled.string
        # Values the statement carries itself (literals), under the caller's.
        self.defaults = {
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None and value is not REQUIRED
        }
        # The conversions `execute` applies to each bound value (private in SQLAlchemy,
        # but the very table its own execution reads: the store's contract tests on
        # both databases catch a change).
        self.processors: tuple[tuple[str, Callable[[Any], Any]], ...] = tuple(
            (name, process)
            for name, process in compiled._bind_processors.items()
            if callable(process)  # a sequence: one per element of a tuple bind, none here
        )
        if len(self.processors) != len(compiled._bind_processors):
            raise ValueError(f"not preparable (a tuple parameter): {compiled.string}")
        # qmark/numeric drivers (sqlite3) take a sequence in this order; named ones
        # (psycopg) the mapping.
        positions = compiled.positiontup
        self.positions: tuple[str, ...] | None = None if positions is None else tuple(positions)

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        for name, process in self.processors:
            value = merged.get(name)
            if value is not None:
                merged[name] = process(value)
        if self.positions is None:
            return merged
        return tuple(merged[name] for name in self.positions)


class Prepared:
    """`statement`, run on a connection's driver cursor (see the module's docstring)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        self._statement = statement
        self._dialect = dialect
        self._by_names: dict[tuple[str, ...], _Compiled] = {}

    def _compiled(self, values: Mapping[str, Any]) -> _Compiled:
        names = tuple(values)
        found = self._by_names.get(names)
        if found is None:  # a race between threads compiles it twice: the same result
            compiled = self._statement.compile(dialect=self._dialect, column_keys=sorted(names))
            assert isinstance(compiled, SQLCompiler)
            found = self._by_names[names] = _Compiled(compiled)
        return found

    def rowcount(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Run it; how many rows it changed."""
        count: int = self._run(conn, values, lambda cursor: cursor.rowcount)
        return count

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run it; the rows it found, as the driver returns them (no result
        processing: for columns of numbers and strings)."""
        found: list[tuple[Any, ...]] = self._run(conn, values, lambda cursor: cursor.fetchall())
        return found

    def _run(self, conn: Connection, values: Mapping[str, Any], read: Callable[[Any], Any]) -> Any:
        compiled = self._compiled(values)
        parameters = compiled.parameters(values)
        driver = conn.connection
        cursor = driver.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            return read(cursor)
        except self._dialect.loaded_dbapi.Error as exc:
            if self._dialect.is_disconnect(exc, driver.dbapi_connection, cursor):
                conn.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql, parameters, exc, self._dialect.loaded_dbapi.Error,
                dialect=self._dialect,
            ) from exc  # fmt: skip
        finally:
            cursor.close()
