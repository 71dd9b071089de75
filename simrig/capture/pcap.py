"""pcapng and pcap files of pile links, written and read with dpkt.

Writing (:class:`PcapngWriter`, :class:`PcapWriter`) is streamed: feed connection
boundaries and chunks in time order; packets go out in batches of at most
``BATCH`` through dpkt's ``writepkts`` (the file holds no more than one batch in memory).
The pcapng file is deterministic: a fixed application name (``simrig``), no host, OS or
date, and the pile ↔ address map in the interface description
(``simrig pile links: 10.0.0.2=32010200000001 …``) so a reader gets the pile numbers back.

Times: a naive ``datetime`` (the run's wall time, as in ``Chunk.at``) is written as if it
were UTC, so ``tshark -t ud`` shows the times ``frames.jsonl`` holds; aware ones are
converted.

Reading (:func:`read_pcap`) reassembles each TCP stream per direction and yields
:class:`~simrig.capture.record.LinkEvent` at SYN and FIN/RST and one
:class:`~simrig.capture.record.Chunk` per pushed run of segments (PSH, or the other side
sending, or the end): a capture this module wrote comes back chunk for chunk.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Self

import dpkt
import dpkt.pcapng as ng

from simrig.capture.record import Chunk, LinkEvent
from simrig.capture.tcp import BACKEND, MSS, Packet, TcpSynth

__all__ = ["PcapWriter", "PcapngWriter", "from_us", "read_pcap", "to_us"]

#: the pcapng application name (fixed: the same run gives the same bytes)
USERAPPL = "simrig"
PILE_MAP_PREFIX = "simrig pile links:"
BATCH = 512
SNAPLEN = 65535
_UNIX = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)


def to_us(at: datetime) -> int:
    """Microseconds since the Unix epoch; a naive time counts as UTC."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return (at - _UNIX) // _US


def from_us(us: int) -> datetime:
    """The naive datetime of :func:`to_us`."""
    return _UNIX + timedelta(microseconds=us)


class _PacketFileWriter:
    """Shared by the pcapng and pcap writers: the TCP synthesis and the batching."""

    def __init__(
        self,
        target: str | Path | IO[bytes],
        piles: Sequence[str] = (),
        *,
        backend: tuple[str, int] = BACKEND,
        mss: int = MSS,
        ack_after: int = 2 * MSS,
    ) -> None:
        self.tcp = TcpSynth(piles, backend=backend, mss=mss, ack_after=ack_after)
        if isinstance(target, str | Path):
            self._file: IO[bytes] = open(target, "wb")  # noqa: SIM115 (closed in close())
            self._owned = True
        else:
            self._file, self._owned = target, False
        self._batch: list[Packet] = []
        self._last_us = 0
        self.packets = 0
        self._writer = self._open_writer()

    def _open_writer(self) -> Any:
        raise NotImplementedError

    # -- the CaptureWriter interface ----------------------------------------------------
    def connected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        self._add(self.tcp.connected(pile_no, to_us(at), conn))

    def disconnected(self, pile_no: str, at: datetime, conn: int | None = None) -> None:
        self._add(self.tcp.disconnected(pile_no, to_us(at), conn))

    def write(self, chunk: Chunk) -> None:
        self._add(
            self.tcp.data(chunk.pile_no, chunk.direction == "up", chunk.data, to_us(chunk.at))
        )

    def close(self, at: datetime | None = None) -> None:
        """Close every open stream (at ``at``, else at the last packet's time) and the file."""
        if self._file.closed:
            return
        self._add(self.tcp.close_all(to_us(at) if at is not None else self._last_us))
        self._flush()
        if self._owned:
            self._file.close()
        else:
            self._file.flush()

    def _add(self, packets: list[Packet]) -> None:
        if not packets:
            return
        self._batch += packets
        self._last_us = packets[-1][0]
        self.packets += len(packets)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._writer.writepkts([(us / 1e6, data) for us, data in self._batch])
            self._batch = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapngWriter(_PacketFileWriter):
    """Streamed pcapng writer of pile links (dpkt's ``pcapng.Writer``), one interface.

    ``piles`` fixes the address order (pile *i* → ``pile_address(i)``) and names the piles
    in the interface description; piles not listed get the next address when first seen
    (and stay unnamed in the file)."""

    def _open_writer(self) -> Any:
        def opt(code: int, value: str | bytes) -> ng.PcapngOptionLE:
            data = value.encode() if isinstance(value, str) else value
            return ng.PcapngOptionLE(code=code, data=data)

        names = " ".join(f"{ip}={pile}" for pile, ip in self.tcp.addresses.items())
        shb = ng.SectionHeaderBlockLE(
            opts=[opt(ng.PCAPNG_OPT_SHB_USERAPPL, USERAPPL), opt(ng.PCAPNG_OPT_ENDOFOPT, b"")]
        )
        idb = ng.InterfaceDescriptionBlockLE(
            snaplen=SNAPLEN,
            linktype=ng.DLT_EN10MB,
            opts=[
                opt(ng.PCAPNG_OPT_IF_NAME, "ykc"),
                opt(ng.PCAPNG_OPT_IF_DESCRIPTION, f"{PILE_MAP_PREFIX} {names}".rstrip()),
                opt(ng.PCAPNG_OPT_IF_TSRESOL, b"\x06"),
                opt(ng.PCAPNG_OPT_ENDOFOPT, b""),
            ],
        )
        return ng.Writer(self._file, snaplen=SNAPLEN, shb=shb, idb=idb)


class PcapWriter(_PacketFileWriter):
    """Streamed classic pcap writer (dpkt's ``pcap.Writer``, µs timestamps). The pcap
    format has no place for pile numbers: a reader names piles from their frames."""

    def _open_writer(self) -> Any:
        return dpkt.pcap.Writer(self._file, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)


# -- reading -------------------------------------------------------------------------------
@dataclass(slots=True)
class _Flow:
    """One TCP stream being read: the client (pile) side and both directions' state."""

    client: tuple[bytes, int]
    pile_no: str
    conn: int
    nxt: dict[bool, int | None] = field(default_factory=lambda: {True: None, False: None})
    pending: dict[bool, bytearray] = field(
        default_factory=lambda: {True: bytearray(), False: bytearray()}
    )
    started: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    closed: bool = False


def read_pcap(path: str | Path, *, backend_port: int = BACKEND[1]) -> Iterator[Chunk | LinkEvent]:
    """Link events and chunks of every TCP stream in a pcap or pcapng file (Ethernet or
    raw IP, IPv4 or IPv6), in file order.

    The pile side of a stream is the one that sent the SYN (else the side whose port is
    not ``backend_port``). Piles are named from the file's pile map (files this module
    wrote), else from the ``pile_no`` of the first frame a pile sent, else by address.
    """
    path = Path(path)
    name_of = _pile_names(path, backend_port)
    flows: dict[tuple[bytes, int, bytes, int], _Flow] = {}
    conns = 0
    for us, src, sport, dst, dport, tcp in _segments(path):
        key = (src, sport, dst, dport)
        flow = flows.get(key)
        up = True
        if flow is None:
            flow = flows.get((dst, dport, src, sport))
            up = False
        if tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK:
            if flow is not None and not flow.closed:
                yield from _finish(flow, us)
            conns += 1
            flow = _Flow((src, sport), name_of((src, sport)), conns)
            flows[key] = flow
            flows.pop((dst, dport, src, sport), None)
            flow.nxt[True] = (tcp.seq + 1) & 0xFFFFFFFF
            yield LinkEvent(from_us(us), flow.pile_no, "connected", conns)
            continue
        if flow is not None and flow.closed and not tcp.data:
            continue  # the rest of the closing handshake
        if flow is None or flow.closed:  # a stream whose SYN the capture missed
            if dport == backend_port or (sport != backend_port and sport > dport):
                client, server = (src, sport), (dst, dport)
            else:
                client, server = (dst, dport), (src, sport)
            conns += 1
            flow = _Flow(client, name_of(client), conns)
            flows[(*client, *server)] = flow
            up = (src, sport) == client
            yield LinkEvent(from_us(us), flow.pile_no, "connected", conns)
        if tcp.flags & dpkt.tcp.TH_SYN:  # SYN-ACK
            flow.nxt[up] = (tcp.seq + 1) & 0xFFFFFFFF
            continue
        data = bytes(tcp.data)
        if data:
            expected = flow.nxt[up]
            if expected is not None:
                skip = (expected - tcp.seq) & 0xFFFFFFFF
                if skip < 0x80000000:  # a retransmission: drop what was seen already
                    data = data[skip:] if skip < len(data) else b""
            end = (tcp.seq + len(tcp.data)) & 0xFFFFFFFF
            if expected is None or (end - expected) & 0xFFFFFFFF < 0x80000000:
                flow.nxt[up] = end
            if data:
                other = flow.pending[not up]
                if other:  # the other side speaks: what it sent so far is a chunk
                    yield _chunk(flow, not up)
                if not flow.pending[up]:
                    flow.started[up] = us
                flow.pending[up] += data
                if tcp.flags & dpkt.tcp.TH_PUSH:
                    yield _chunk(flow, up)
        if tcp.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST):
            yield from _finish(flow, us)
    for flow in flows.values():
        if not flow.closed:
            yield from _finish(flow, None)


def _chunk(flow: _Flow, up: bool) -> Chunk:
    data = bytes(flow.pending[up])
    flow.pending[up].clear()
    return Chunk(from_us(flow.started[up]), flow.pile_no, "up" if up else "down", data)


def _finish(flow: _Flow, us: int | None) -> Iterator[Chunk | LinkEvent]:
    for up in (True, False):
        if flow.pending[up]:
            yield _chunk(flow, up)
    flow.closed = True
    if us is not None:
        yield LinkEvent(from_us(us), flow.pile_no, "disconnected", flow.conn)


def _name(ip: bytes) -> str:
    return str(ipaddress.ip_address(ip))


def _packets(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(µs, link type, packet bytes) of a pcap or pcapng file."""
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        reader: Any = ng.Reader(f) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
        linktype = reader.datalink()
        for ts, buf in reader:
            yield round(ts * 1e6), linktype, buf


def _segments(path: Path) -> Iterator[tuple[int, bytes, int, bytes, int, dpkt.tcp.TCP]]:
    for us, linktype, buf in _packets(path):
        try:
            if linktype == dpkt.pcap.DLT_EN10MB:
                ip = dpkt.ethernet.Ethernet(buf).data
            elif linktype in (dpkt.pcap.DLT_RAW, 101, 228, 229):
                ip = dpkt.ip6.IP6(buf) if buf[:1] and buf[0] >> 4 == 6 else dpkt.ip.IP(buf)
            elif linktype == dpkt.pcap.DLT_LINUX_SLL:
                ip = dpkt.sll.SLL(buf).data
            else:
                continue
        except (dpkt.UnpackError, IndexError):
            continue
        tcp = getattr(ip, "data", None)
        if isinstance(tcp, dpkt.tcp.TCP):
            yield us, bytes(ip.src), tcp.sport, bytes(ip.dst), tcp.dport, tcp


def _pile_names(path: Path, backend_port: int) -> Callable[[tuple[bytes, int]], str]:
    """The pile number of a client (address, port): from the pile map of a simrig pcapng,
    else from the first frame the client sent that carries a ``pile_no``, else its address."""
    by_ip: dict[bytes, str] = {}
    with open(path, "rb") as f:
        if f.read(4) == b"\x0a\x0d\x0d\x0a":
            f.seek(0)
            for opt in ng.Reader(f).idb.opts:
                if opt.code == ng.PCAPNG_OPT_IF_DESCRIPTION:
                    text = bytes(opt.data).decode("utf-8", "replace")
                    if text.startswith(PILE_MAP_PREFIX):
                        for ip, pile in re.findall(r"(\S+)=(\S+)", text):
                            by_ip[ipaddress.ip_address(ip).packed] = pile
    if by_ip:
        return lambda client: by_ip.get(client[0]) or _name(client[0])
    from simrig.protocol.ykc import Frame, Framer

    by_client: dict[tuple[bytes, int], str] = {}
    tried: set[tuple[bytes, int]] = set()
    for _us, src, sport, _dst, dport, tcp in _segments(path):
        client = (src, sport)
        if dport != backend_port or client in tried or not tcp.data:
            continue
        tried.add(client)
        for item in Framer(tolerant=True).feed(bytes(tcp.data)):
            pile_no = getattr(item.message, "pile_no", None) if isinstance(item, Frame) else None
            if pile_no:
                by_client[client] = str(pile_no)
                break
    return lambda client: by_client.get(client) or _name(client[0])
