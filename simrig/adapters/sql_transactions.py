"""How the reference platform's SQL writes are committed: one by one, or as a group.

Alone, every write is its own transaction (``BEGIN`` … ``COMMIT``), durable when the call
returns. Grouped (``simrig platform serve --group-commit``, the default), the writes made
while the server handles the bytes that arrived in one event-loop turn share one
transaction, each inside a savepoint (a failed write rolls back alone and raises, as
before), and the server commits the group before it sends a single byte: whatever a
pile is acknowledged (a bill's 0x40, a start's 0x32) is still durable first, but 500
piles uploading their bills at once cost one disk flush, not 500. A write made outside
the group (an HTTP call, a platform timer) commits the open group with it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["SqlTransactions"]


class SqlTransactions:
    """The transactions of one SQL connection (``execute`` runs one statement)."""

    def __init__(self, execute: Callable[[str], Any], begin: str) -> None:
        self._execute = execute
        self._begin = begin
        #: a group transaction is open (written, not yet committed)
        self.open = False
        #: writes now join the group (:meth:`grouped`)
        self.grouping = False
        #: transactions committed (for the benchmark)
        self.commits = 0

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write: its own transaction, or a savepoint of the group."""
        if not (self.open or self.grouping):
            self._execute(self._begin)
            try:
                yield
            except BaseException:
                self._execute("ROLLBACK")
                raise
            self._execute("COMMIT")
            self.commits += 1
            return
        if not self.open:
            self._execute(self._begin)
            self.open = True
        self._execute("SAVEPOINT write")
        try:
            yield
        except BaseException:
            self._execute("ROLLBACK TO SAVEPOINT write")
            self._execute("RELEASE SAVEPOINT write")
            raise
        self._execute("RELEASE SAVEPOINT write")
        if not self.grouping:
            self.commit()

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """Writes made inside join the group, committed by :meth:`commit`."""
        self.grouping = True
        try:
            yield
        finally:
            self.grouping = False

    def commit(self) -> None:
        """Commit the open group, durably (nothing open: nothing to do). A failed commit
        rolls the group back and raises: the caller must not send what it acknowledges."""
        if not self.open:
            return
        self.open = False
        try:
            self._execute("COMMIT")
        except BaseException:
            with suppress(Exception):
                self._execute("ROLLBACK")
            raise
        self.commits += 1
