"""Capture readers and writers chosen by file suffix (as python-can's ``can.io`` does).

=========== ============================================= ==================================
suffix      writer                                        reader yields
=========== ============================================= ==================================
``.pcapng`` :class:`~simrig.capture.pcap.PcapngWriter`    link events and chunks per stream
``.pcap``   :class:`~simrig.capture.pcap.PcapWriter`      link events and chunks per stream
``.jsonl``  :class:`~simrig.capture.textfiles.JsonlWriter` chunks (a frame per line)
``.hex``    :class:`~simrig.capture.textfiles.HexWriter`  chunks and link events
=========== ============================================= ==================================

Every writer has the :class:`CaptureWriter` interface: ``connected``, ``write(chunk)``,
``disconnected``, ``close``, fed in time order. :func:`run_items` merges a run's chunks
with its ``connected``/``disconnected`` events into that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from simrig.capture.pcap import PcapngWriter, PcapWriter, read_pcap
from simrig.capture.record import Chunk, LinkEvent
from simrig.capture.textfiles import HexWriter, JsonlWriter, read_hex, read_jsonl
from simrig.endpoint import Event

__all__ = [
    "READERS",
    "WRITERS",
    "CaptureWriter",
    "feed",
    "open_writer",
    "read_capture",
    "read_chunks",
    "run_items",
    "write_capture",
]


class CaptureWriter(Protocol):
    def connected(self, pile_no: str, at: datetime, conn: int | None = None) -> None: ...

    def write(self, chunk: Chunk) -> None: ...

    def disconnected(self, pile_no: str, at: datetime, conn: int | None = None) -> None: ...

    def close(self, at: datetime | None = None) -> None: ...


def _pcapng(path: Path, piles: Sequence[str]) -> CaptureWriter:
    return PcapngWriter(path, piles)


def _pcap(path: Path, piles: Sequence[str]) -> CaptureWriter:
    return PcapWriter(path, piles)


def _jsonl(path: Path, piles: Sequence[str]) -> CaptureWriter:
    return JsonlWriter(path)


def _hex(path: Path, piles: Sequence[str]) -> CaptureWriter:
    return HexWriter(path)


#: suffix → factory(path, piles) of a writer
WRITERS: dict[str, Callable[[Path, Sequence[str]], CaptureWriter]] = {
    ".pcapng": _pcapng,
    ".pcap": _pcap,
    ".jsonl": _jsonl,
    ".hex": _hex,
}
#: suffix → reader(path) of link events and chunks
READERS: dict[str, Callable[[Path], Iterable[Chunk | LinkEvent]]] = {
    ".pcapng": read_pcap,
    ".pcap": read_pcap,
    ".jsonl": read_jsonl,
    ".hex": read_hex,
}


def _suffix(path: Path, table: dict[str, Any]) -> str:
    suffix = path.suffix.lower()
    if suffix not in table:
        known = ", ".join(table)
        raise ValueError(f"{path}: unknown capture suffix {suffix!r} (known: {known})")
    return suffix


def open_writer(path: str | Path, piles: Sequence[str] = ()) -> CaptureWriter:
    """A streamed writer for ``path``, chosen by its suffix."""
    path = Path(path)
    return WRITERS[_suffix(path, WRITERS)](path, piles)


def read_capture(path: str | Path) -> Iterator[Chunk | LinkEvent]:
    """Link events and chunks of ``path``, chosen by its suffix, in file order."""
    path = Path(path)
    yield from READERS[_suffix(path, READERS)](path)


def read_chunks(path: str | Path) -> list[Chunk]:
    return [item for item in read_capture(path) if isinstance(item, Chunk)]


def feed(writer: CaptureWriter, items: Iterable[Chunk | LinkEvent]) -> None:
    """Write every item (in the order given) to ``writer``."""
    write = writer.write
    for item in items:
        if type(item) is Chunk:
            write(item)
        elif isinstance(item, LinkEvent):
            if item.kind == "connected":
                writer.connected(item.pile_no, item.at, item.conn)
            else:
                writer.disconnected(item.pile_no, item.at, item.conn)


def write_capture(
    path: str | Path,
    items: Iterable[Chunk | LinkEvent],
    piles: Sequence[str] = (),
    end: datetime | None = None,
) -> Path:
    """Write ``items`` to ``path`` (format by suffix); streams still open close at ``end``."""
    writer = open_writer(path, piles)
    try:
        feed(writer, items)
    finally:
        writer.close(end)
    return Path(path)


def run_items(
    chunks: Iterable[Chunk],
    events: Iterable[Event],
    wall: Callable[[float], datetime],
    piles: Iterable[str] | None = None,
) -> Iterator[Chunk | LinkEvent]:
    """A run's chunks and ``connected``/``disconnected`` events in time order.

    ``wall`` maps event seconds to wall time (``RunResult.wall``); ``piles`` keeps only
    those piles (a sample). At one instant a connect comes before the chunks and a
    disconnect after them (a pile logs in as it connects; a side closes after writing).
    """
    keep = None if piles is None else set(piles)
    links = sorted(
        (
            (wall(e.t), 2 if e.kind == "disconnected" else 0, i, e)
            for i, e in enumerate(events)
            if e.kind in ("connected", "disconnected") and (keep is None or e.source in keep)
        ),
        key=lambda x: x[:3],
    )
    pending = [LinkEvent(at, e.source, e.kind, e.data.get("conn")) for at, _r, _i, e in links]
    # a link event goes before a chunk later than it, or at the same time if a connect
    due = [(at, rank == 0) for at, rank, _i, _e in links]
    n, li = len(pending), 0
    for c in chunks:
        if keep is not None and c.pile_no not in keep:
            continue
        while li < n and (due[li][0] < c.at or (due[li][1] and due[li][0] == c.at)):
            yield pending[li]
            li += 1
        yield c
    yield from pending[li:]
