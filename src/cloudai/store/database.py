"""Where the SQL store's statements run: synchronous connections on threads the store
owns, each store call whole on one thread.

An async driver hops between the event loop and its thread for every step of every
statement (checkout, cursor, execute, fetch, close, commit: 17 hops for one submit);
here a store call is one hop there and one back, and its statements run back to back
on a plain DBAPI connection.

SQLite has one writer per file, and its commit (an fsync) is much of a write's time: one
thread writes, and the writes that queued while it committed go into one transaction
together (group commit). Should one of them fail, they all run again, each alone, so a
failure takes no one else's write with it. Nobody hears of their write before the commit
that holds it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine

T = TypeVar("T")

logger = logging.getLogger(__name__)

# PostgreSQL takes row locks, so writers run side by side: as many threads as the
# connection pool keeps open (SQLAlchemy's default pool_size).
_POSTGRES_THREADS = 5
# SQLite readers run beside its one writer (WAL); two keep a slow listing from
# holding up the hot reads.
_SQLITE_READERS = 2
# The most writes one SQLite transaction takes: bounds how long the first waits.
_GROUP_LIMIT = 64

Work = Callable[[Connection], Any]


class Database:
    """Runs functions of a `Connection` on the store's threads: `read` on a connection
    outside any transaction the function does not open, `write` in a transaction that
    commits when the function returns and rolls back when it raises."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._group: _GroupWriter | None = None
        self._pool: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            self._group = _GroupWriter(engine)
            # An in-memory database is one connection: its reads queue with the writes.
            if engine.url.database not in (None, "", ":memory:"):
                self._pool = ThreadPoolExecutor(
                    _SQLITE_READERS, thread_name_prefix="cloudai-db-read"
                )
        else:
            self._pool = ThreadPoolExecutor(_POSTGRES_THREADS, thread_name_prefix="cloudai-db")

    async def read(self, work: Callable[[Connection], T]) -> T:
        if self._pool is None:
            return await self.write(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._read_now, work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        if self._group is not None:
            result: T = await self._group.submit(work)
            return result
        assert self._pool is not None  # one of the two is always there
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._write_now, work)

    def _read_now(self, work: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            return work(conn)

    def _write_now(self, work: Callable[[Connection], T]) -> T:
        with self.engine.begin() as conn:
            return work(conn)

    async def close(self) -> None:
        """Let the calls in flight finish, then close every connection."""
        await asyncio.to_thread(self._shut_down)

    def _shut_down(self) -> None:
        if self._group is not None:
            self._group.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.engine.dispose()


class _Job:
    __slots__ = ("future", "loop", "work")

    def __init__(self, work: Work, loop: asyncio.AbstractEventLoop) -> None:
        self.work, self.loop = work, loop
        self.future: asyncio.Future[Any] = loop.create_future()


class _GroupWriter:
    """One thread that runs SQLite writes, those queued together in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._conn: Connection  # opened by the thread, used by it alone
        self._thread = threading.Thread(target=self._run, name="cloudai-db-write", daemon=True)
        self._thread.start()

    async def submit(self, work: Work) -> Any:
        job = _Job(work, asyncio.get_running_loop())
        self._jobs.put(job)
        return await job.future

    def stop(self) -> None:
        """Finish what is queued, then end the thread (blocking)."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        # One connection for the thread's life: no pool checkout and return per write.
        self._conn = self._engine.connect()
        try:
            self._serve()
        finally:
            self._conn.close()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _GROUP_LIMIT and not self._jobs.empty():
                job = self._jobs.get()
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            _settle(batch, self._commit(batch))

    def _commit(self, batch: list[_Job]) -> list[tuple[bool, Any]]:
        """Each job's (succeeded, result or exception), after one commit of them all.

        Optimistic: the jobs run back to back in one transaction. Should one raise
        (rare: a duplicate id), that transaction is rolled back and each job runs again
        in a transaction of its own, so a failure takes no one else's write with it."""
        if len(batch) == 1:
            return [self._alone(batch[0].work)]
        try:
            values = self._transaction([job.work for job in batch])
        except Exception:  # rolled back: each runs again alone and hears its own outcome
            return [self._alone(job.work) for job in batch]
        return [(True, value) for value in values]

    def _alone(self, work: Work) -> tuple[bool, Any]:
        try:
            return True, self._transaction([work])[0]
        except Exception as exc:  # handed to the caller, whose call raises it
            return False, exc

    def _transaction(self, works: list[Work]) -> list[Any]:
        """Run `works` in one transaction and commit it; raises what the first that
        fails raises (or the commit), and then nothing of them is written."""
        conn = self._conn
        try:
            # IMMEDIATE: take the write lock now (another process's writer waits
            # for it, up to busy_timeout) rather than fail on upgrading it later.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            results = [work(conn) for work in works]
            conn.commit()
        except BaseException:
            self._reset()
            raise
        return results

    def _reset(self) -> None:
        """After a failed transaction: rolled back, or (if even that fails) a new
        connection for the next."""
        try:
            self._conn.rollback()
        except Exception:  # the connection is broken: the next write gets a fresh one
            logger.warning("database connection reset after a failed rollback", exc_info=True)
            self._conn.invalidate()
            self._conn.close()
            self._conn = self._engine.connect()


def _settle(batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    for job, (succeeded, value) in zip(batch, outcomes, strict=True):
        # A loop that closed has no one waiting on its futures any more.
        if not job.loop.is_closed():
            job.loop.call_soon_threadsafe(_resolve, job.future, succeeded, value)


def _resolve(future: asyncio.Future[Any], succeeded: bool, value: Any) -> None:
    if future.cancelled():  # its caller gave up; the write stands
        return
    if succeeded:
        future.set_result(value)
    else:
        future.set_exception(value)
