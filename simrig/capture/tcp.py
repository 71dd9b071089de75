"""TCP streams on paper: a pile link's chunks as Ethernet/IPv4/TCP packets (no I/O).

:class:`TcpSynth` turns connection boundaries and chunks into packets a packet tool can
follow: one TCP stream per pile connection, a SYN / SYN-ACK / ACK handshake when it
opens, FIN / FIN-ACK / ACK when it closes, and sequence and ack numbers that add up.
Data is acked by the peer's next packet; a side that keeps sending gets a pure ACK from
its peer once ``ack_after`` bytes are unacked (default two full segments, the "every
second full-sized segment" of RFC 9293 §3.8.6.3; its 500 ms timer is left out: a pure ACK
per unanswered 0x13 would cost half the packets). ``ack_after=1`` acks every segment.

Addresses are stable: the backend is ``10.0.0.1:8767`` (configurable), pile *i* (in the
order given, then in order of first appearance) is ``10.0.x.y`` with ``x.y`` = *i* + 2;
its *k*-th connection uses source port ``40000 + k`` (a new stream, never a reused one).
Handshake and FIN packets are built with dpkt's packet classes; data and pure-ACK
packets, the hot path, are packed with one :class:`struct.Struct` over the same header
layout, checksums summed from per-side constants: several times faster than building dpkt
objects per packet (``benchmarks/capture_write.py``).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import dpkt

__all__ = ["BACKEND", "MSS", "Packet", "TcpSynth", "pile_address"]

#: (ip, port) of the backend in synthesized captures (8767: the reference platform's port)
BACKEND = ("10.0.0.1", 8767)
MSS = 1460
FIRST_PORT = 40000
_WINDOW = 65535
_TTL = 64
_FIN, _SYN, _PSH, _ACK = dpkt.tcp.TH_FIN, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH, dpkt.tcp.TH_ACK
# Ethernet (14) + IPv4 (20, no options) + TCP (20, no options), network order
# Ethernet + IPv4 version/TOS (16 constant bytes), IPv4 length, id, the flags/TTL/protocol
# (4 constant bytes), checksum, addresses and ports (12 constant bytes), then TCP seq, ack,
# offset/flags, window, checksum, urgent pointer
_HDR = struct.Struct("!16sHH4sH12sIIHHHH")
_IP_MID = struct.pack("!HBB", 0x4000, _TTL, 6)  # don't fragment, TTL, TCP

#: (timestamp in µs since the Unix epoch, the packet's bytes)
Packet = tuple[int, bytes]


def pile_address(index: int) -> str:
    """The IPv4 address of the pile at ``index`` (0-based): 10.0.0.2, 10.0.0.3, …"""
    n = index + 2
    if n > 0xFFFE:
        raise ValueError(f"pile index {index}: at most {0xFFFE - 1} piles per capture")
    return f"10.0.{n >> 8}.{n & 0xFF}"


def _mac(ip: bytes) -> bytes:
    return b"\x02\x00" + ip  # locally administered, derived from the address


@dataclass(slots=True)
class _Side:
    """One direction's sender state."""

    mac: bytes
    ip: bytes
    port: int
    isn: int
    nxt: int  # next sequence number to send
    ident: int = 0  # IPv4 id
    acked_by_peer: int = 0  # highest ack the peer has sent for our data
    ip_const: int = 0  # the constant words of our IPv4 header, summed
    tcp_const: int = 0  # the constant words of our pseudo and TCP headers, summed
    head: bytes = b""  # Ethernet header + IPv4 version/TOS
    route: bytes = b""  # IPv4 addresses + TCP ports

    def constants(self, peer: _Side) -> None:
        """The header bytes and checksum words that never change on this side's packets."""
        self.head = peer.mac + self.mac + b"\x08\x00\x45\x00"
        self.route = self.ip + peer.ip + struct.pack("!HH", self.port, peer.port)
        self.ip_const = _sum16(b"\x45\x00" + _IP_MID + self.ip + peer.ip)
        self.tcp_const = _sum16(
            self.ip + peer.ip + struct.pack("!HHHHH", 6, self.port, peer.port, 0x5000, _WINDOW)
        )


def _sum16(data: bytes) -> int:
    """The ones' complement sum of big-endian 16-bit words, mod 0xFFFF (65536 ≡ 1)."""
    return int.from_bytes(data + b"\0" if len(data) & 1 else data, "big") % 0xFFFF


class _Stream:
    __slots__ = ("client", "server", "stream_no")

    def __init__(self, client: _Side, server: _Side, stream_no: int) -> None:
        self.client = client
        self.server = server
        self.stream_no = stream_no


class TcpSynth:
    """Packets for pile links, fed in time order; each method returns the new packets.

    ``connected`` opens a stream (closing the pile's open one first), ``data`` sends a
    chunk (opening a stream if the pile has none: a capture that starts mid-connection),
    ``disconnected`` closes it, ``close_all`` closes every open stream at the end.
    """

    def __init__(
        self,
        piles: Sequence[str] = (),
        *,
        backend: tuple[str, int] = BACKEND,
        mss: int = MSS,
        ack_after: int = 2 * MSS,
    ) -> None:
        self.mss = mss
        self.ack_after = ack_after
        self.backend_ip = ipaddress.IPv4Address(backend[0]).packed
        self.backend_port = backend[1]
        self.addresses: dict[str, str] = {}
        for pile_no in piles:
            self.address(pile_no)
        self._open: dict[str, tuple[_Stream, int | None]] = {}
        self._conns: dict[str, int] = {}
        self._streams = 0

    def address(self, pile_no: str) -> str:
        """The pile's address (assigned on first sight)."""
        ip = self.addresses.get(pile_no)
        if ip is None:
            ip = self.addresses[pile_no] = pile_address(len(self.addresses))
        return ip

    # -- connections -------------------------------------------------------------------
    def connected(self, pile_no: str, us: int, conn: int | None = None) -> list[Packet]:
        out = self.disconnected(pile_no, us) if pile_no in self._open else []
        k = self._conns.get(pile_no, 0) + 1
        self._conns[pile_no] = k
        self._streams += 1
        n = self._streams
        ip = ipaddress.IPv4Address(self.address(pile_no)).packed
        port = FIRST_PORT + (k - 1) % 20000 + 1
        # deterministic, well spread initial sequence numbers
        c_isn = (n * 0x9E3779B1) & 0xFFFFFFFF
        s_isn = (n * 0x85EBCA77 + 0x5BD1E995) & 0xFFFFFFFF
        client = _Side(_mac(ip), ip, port, c_isn, (c_isn + 1) & 0xFFFFFFFF)
        server = _Side(
            _mac(self.backend_ip),
            self.backend_ip,
            self.backend_port,
            s_isn,
            (s_isn + 1) & 0xFFFFFFFF,
        )
        client.constants(server)
        server.constants(client)
        stream = _Stream(client, server, n)
        self._open[pile_no] = (stream, conn)
        syn_opts = b"\x02\x04" + struct.pack("!H", self.mss) + b"\x01\x01\x04\x02"  # MSS, SACK ok
        out.append((us, self._slow(client, server, _SYN, c_isn, 0, syn_opts)))
        out.append((us, self._slow(server, client, _SYN | _ACK, s_isn, client.nxt, syn_opts)))
        out.append((us, self._fast(client, server, _ACK, b"")))
        client.acked_by_peer = client.nxt
        server.acked_by_peer = server.nxt
        return out

    def disconnected(self, pile_no: str, us: int, conn: int | None = None) -> list[Packet]:
        """Close the pile's open stream (FIN from the pile, FIN from the backend, ACK)."""
        entry = self._open.get(pile_no)
        if entry is None or (conn is not None and entry[1] is not None and entry[1] != conn):
            return []
        del self._open[pile_no]
        c, s = entry[0].client, entry[0].server
        out = [(us, self._fast(c, s, _FIN | _ACK, b""))]
        c.nxt = (c.nxt + 1) & 0xFFFFFFFF
        out.append((us, self._fast(s, c, _FIN | _ACK, b"")))
        s.nxt = (s.nxt + 1) & 0xFFFFFFFF
        out.append((us, self._fast(c, s, _ACK, b"")))
        return out

    def close_all(self, us: int) -> list[Packet]:
        out: list[Packet] = []
        for pile_no in list(self._open):
            out += self.disconnected(pile_no, us)
        return out

    # -- data --------------------------------------------------------------------------
    def data(self, pile_no: str, up: bool, payload: bytes, us: int) -> list[Packet]:
        """Send ``payload`` (``up``: pile → backend) as MSS-sized segments, PSH on the last."""
        out: list[Packet] = []
        entry = self._open.get(pile_no)
        if entry is None:
            out += self.connected(pile_no, us)
            entry = self._open[pile_no]
        stream = entry[0]
        src, dst = (stream.client, stream.server) if up else (stream.server, stream.client)
        if (src.nxt - src.acked_by_peer) & 0xFFFFFFFF >= self.ack_after:  # the peer acks first
            out.append((us, self._fast(dst, src, _ACK, b"")))
        mss = self.mss
        for at in range(0, len(payload), mss):
            segment = payload[at : at + mss]
            last = at + mss >= len(payload)
            out.append((us, self._fast(src, dst, _ACK | _PSH if last else _ACK, segment)))
        return out

    # -- packet building ---------------------------------------------------------------
    def _fast(self, src: _Side, dst: _Side, flags: int, payload: bytes) -> bytes:
        """A packet without IP or TCP options from ``src`` (acking all of ``dst``'s data).

        Checksums (RFC 791, RFC 793 §3.1) use the mod-0xFFFF identity of the ones'
        complement sum over the per-side constants (:func:`_sum16`)."""
        size = len(payload)
        total = 40 + size
        seq, ack = src.nxt, dst.nxt
        ident = src.ident = (src.ident + 1) & 0xFFFF
        ip_sum = 0xFFFF - (src.ip_const + total + ident) % 0xFFFF
        body = int.from_bytes(payload + b"\0" if size & 1 else payload, "big")
        tcp_sum = 0xFFFF - (src.tcp_const + 20 + size + seq + ack + flags + body) % 0xFFFF
        src.nxt = (seq + size) & 0xFFFFFFFF
        dst.acked_by_peer = ack
        return (
            _HDR.pack(
                src.head,
                total,
                ident,
                _IP_MID,
                ip_sum,
                src.route,
                seq,
                ack,
                0x5000 | flags,
                _WINDOW,
                tcp_sum,
                0,
            )
            + payload
        )

    def _slow(self, src: _Side, dst: _Side, flags: int, seq: int, ack: int, opts: bytes) -> bytes:
        """A handshake packet with TCP options, built with dpkt's classes."""
        src.ident = (src.ident + 1) & 0xFFFF
        tcp = dpkt.tcp.TCP(
            sport=src.port, dport=dst.port, seq=seq, ack=ack, flags=flags, win=_WINDOW, opts=opts
        )
        tcp.off = (20 + len(opts)) // 4
        ip = dpkt.ip.IP(src=src.ip, dst=dst.ip, p=6, ttl=_TTL, id=src.ident, df=1, data=tcp)
        ip.len = 20 + len(bytes(tcp))
        eth = dpkt.ethernet.Ethernet(dst=dst.mac, src=src.mac, type=0x0800, data=ip)
        return bytes(eth)
