"""``simrig load --capture sample``: a capture of a few piles, streamed (issue 13 item 2).

A load run keeps no per-frame record; this optional tap writes what crossed the links of
a **sample of piles** — ``piles`` of them, spread evenly over the plan's pile numbers
(sorted), so the same plan gives the same sample — to ``capture.pcapng`` and
``frames.jsonl`` through the capture writers (:func:`~simrig.capture.formats.open_writer`),
streamed: nothing is held beyond the writers' batches. Each sampled pile is captured up
to ``max_bytes`` (its chunks up and down, whole chunks: the first chunk past the limit
and every later one of that pile are left out; its open stream is closed at the end).

With ``--workers K`` each worker captures the sampled piles it drives into its own files
(``capture-w0.pcapng``, ``frames-w0.jsonl``, ...): no file is shared between processes;
a worker that drives no sampled pile writes none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from simrig.capture import Chunk
from simrig.capture.formats import CaptureWriter, open_writer

if TYPE_CHECKING:
    from simrig.adapters.realtime import Direction, Recorder
    from simrig.endpoint import Event

__all__ = ["CaptureSpec", "CaptureTap", "sample_piles"]


def sample_piles(pile_numbers: Sequence[str], count: int) -> list[str]:
    """``count`` piles spread evenly over the sorted pile numbers (all when fewer)."""
    ordered = sorted(pile_numbers, key=int)
    n = len(ordered)
    if count >= n:
        return ordered
    return [ordered[i * n // count] for i in range(count)]


@dataclass(frozen=True)
class CaptureSpec:
    """What to capture and where (plain data: it travels to ``--workers`` processes)."""

    out: Path
    piles: tuple[str, ...]
    max_bytes: int = 0  # per pile; 0 = no limit

    def paths(self, worker: int | None = None) -> tuple[Path, Path]:
        """The pcapng and jsonl files of one process (``worker`` None: the only one)."""
        tag = "" if worker is None else f"-w{worker}"
        return self.out / f"capture{tag}.pcapng", self.out / f"frames{tag}.jsonl"


class CaptureTap:
    """A :class:`~simrig.adapters.realtime.Recorder` that passes everything to ``inner``
    and writes the sampled piles' chunks and connects/disconnects to the writers."""

    def __init__(
        self,
        inner: Recorder,
        spec: CaptureSpec,
        piles: Sequence[str],
        wall: Callable[[float], datetime],
        worker: int | None = None,
    ) -> None:
        self.inner = inner
        self.wall = wall
        self.max_bytes = spec.max_bytes
        mine = set(piles)
        self.piles = [p for p in spec.piles if p in mine]
        #: sampled pile → bytes captured so far
        self.bytes = dict.fromkeys(self.piles, 0)
        self.full: set[str] = set()
        self.chunks = 0
        spec.out.mkdir(parents=True, exist_ok=True)
        self.paths = spec.paths(worker)
        self.writers: list[CaptureWriter] = []
        try:
            for path in self.paths:
                self.writers.append(open_writer(path, self.piles))
        except BaseException:
            self.close()
            raise

    def _chunk(self, pile_no: str, direction: str, data: bytes, now: float) -> None:
        seen = self.bytes.get(pile_no)
        if seen is None or pile_no in self.full:
            return
        if self.max_bytes and seen + len(data) > self.max_bytes:
            self.full.add(pile_no)
            return
        self.bytes[pile_no] = seen + len(data)
        self.chunks += 1
        chunk = Chunk(self.wall(now), pile_no, direction, data)
        for writer in self.writers:
            writer.write(chunk)

    # -- the recorder interface ---------------------------------------------------------
    def sent(self, pile_no: str, data: bytes, now: float) -> None:
        self.inner.sent(pile_no, data, now)
        self._chunk(pile_no, "up", data, now)

    def received(self, pile_no: str, data: bytes, now: float) -> None:
        self.inner.received(pile_no, data, now)
        self._chunk(pile_no, "down", data, now)

    def delivered(self, pile_no: str, direction: Direction, data: bytes, now: float) -> None:
        self.inner.delivered(pile_no, direction, data, now)

    def event(self, event: Event) -> None:
        self.inner.event(event)
        pile_no = event.source
        if pile_no not in self.bytes or pile_no in self.full:
            return
        if event.kind in ("connected", "disconnected"):
            at, conn = self.wall(event.t), event.data.get("conn")
            for writer in self.writers:
                if event.kind == "connected":
                    writer.connected(pile_no, at, conn)
                else:
                    writer.disconnected(pile_no, at, conn)

    def stimulus(self) -> None:
        self.inner.stimulus()

    def timer_fired(self, pile_no: str, due: float) -> None:
        self.inner.timer_fired(pile_no, due)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()

    def summary(self) -> str:
        """One line for the report's notes."""
        names = ", ".join(p.name for p in self.paths)
        limited = f", {len(self.full)} cut at {self.max_bytes} bytes" if self.full else ""
        return (
            f"capture: {len(self.piles)} sampled piles, {self.chunks} chunks, "
            f"{sum(self.bytes.values())} bytes{limited} → {names}"
        )
