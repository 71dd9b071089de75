"""Progress for people and for CI logs: a bar on a terminal, a status line every N s elsewhere.

Long runs used to be silent in CI for minutes (the bar is drawn only on a terminal and
vanished when done). :class:`StatusLine` prints one line every ``every_s`` seconds on a
console that is not a terminal; :func:`progress` picks the bar or the status line.
Every command that reports progress uses one of these two (``simrig run``, ``demo``,
``station``, and the load command's per-N-seconds status line).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

__all__ = ["STATUS_EVERY_S", "ProgressTracker", "StatusLine", "progress"]

#: seconds between two status lines on a non-terminal console
STATUS_EVERY_S = 10.0


class StatusLine:
    """One line at most every ``every_s`` seconds (``clock``: seconds, monotonic).

    ``maybe(text)`` prints when the interval has passed since the last line (or since
    creation); ``text`` may be a callable, evaluated only then. ``now(text)`` prints at once.
    Lines are printed without markup, so ``[[users]]`` and ``[igo_case#29]`` stay as written.
    """

    def __init__(
        self,
        console: Console,
        every_s: float = STATUS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self._last = self.started

    def elapsed(self) -> float:
        return self.clock() - self.started

    def due(self) -> bool:
        return self.clock() - self._last >= self.every_s

    def maybe(self, text: str | Callable[[], str]) -> bool:
        if not self.due():
            return False
        self.now(text() if callable(text) else text)
        return True

    def now(self, text: str) -> None:
        self._last = self.clock()
        self.console.print(Text(text), overflow="fold", crop=False, soft_wrap=True)


class ProgressTracker:
    """What :func:`progress` yields: ``update(completed)`` and ``advance(n)``."""

    def __init__(self, label: str, total: float, status: StatusLine | None) -> None:
        self.label = label
        self.total = total
        self.completed = 0.0
        self.status = status
        self._bar: tuple[Progress, object] | None = None

    def update(self, completed: float) -> None:
        self.completed = completed
        if self._bar is not None:
            bar, task = self._bar
            bar.update(task, completed=completed)  # type: ignore[arg-type]
        elif self.status is not None:
            self.status.maybe(self.line)

    def advance(self, amount: float = 1.0) -> None:
        self.update(self.completed + amount)

    def line(self) -> str:
        """``label: 42% · 12 s`` (the non-terminal status line)."""
        share = self.completed / self.total if self.total else 1.0
        elapsed = self.status.elapsed() if self.status is not None else 0.0
        return f"{self.label}: {100 * share:3.0f}% · {elapsed:.0f} s"


@contextmanager
def progress(
    console: Console,
    label: str,
    total: float = 1.0,
    every_s: float = STATUS_EVERY_S,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[ProgressTracker]:
    """A bar on a terminal (left on screen when done); elsewhere a status line every
    ``every_s`` seconds and one last line when the work ends."""
    if console.is_terminal:
        tracker = ProgressTracker(label, total, None)
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
        )
        with bar:
            tracker._bar = (bar, bar.add_task(label, total=total))
            yield tracker
        return
    status = StatusLine(console, every_s, clock)
    tracker = ProgressTracker(label, total, status)
    yield tracker
    status.now(f"{label}: done · {status.elapsed():.1f} s")
