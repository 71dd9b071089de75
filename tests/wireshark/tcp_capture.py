"""A minimal pcapng of one TCP connection (handshake, seq/ack numbers) written with dpkt."""

from __future__ import annotations

from pathlib import Path

import dpkt

PILE_IP, PLATFORM_IP = bytes((10, 0, 0, 2)), bytes((10, 0, 0, 1))
PILE_MAC, PLATFORM_MAC = b"\x02\x00\x00\x00\x00\x02", b"\x02\x00\x00\x00\x00\x01"


class TcpCapture:
    """Segments of one pile ↔ platform TCP connection, each a pcapng packet."""

    def __init__(self, path: Path, port: int = 8767, pile_port: int = 40001) -> None:
        self._file = path.open("wb")
        self._writer = dpkt.pcapng.Writer(self._file)
        self.port, self.pile_port = port, pile_port
        self.time = 1_700_000_000.0
        self.seq = {True: 1000, False: 5000}  # next seq of the pile (True) / platform side
        self._packet(True, dpkt.tcp.TH_SYN, b"")
        self.seq[True] += 1
        self._packet(False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, b"", ack=self.seq[True])
        self.seq[False] += 1
        self._packet(True, dpkt.tcp.TH_ACK, b"")

    def send(self, from_pile: bool, data: bytes) -> None:
        """One segment of ``data`` in that direction."""
        self._packet(from_pile, dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH, data)
        self.seq[from_pile] += len(data)

    def _packet(self, from_pile: bool, flags: int, data: bytes, ack: int | None = None) -> None:
        tcp = dpkt.tcp.TCP(
            sport=self.pile_port if from_pile else self.port,
            dport=self.port if from_pile else self.pile_port,
            seq=self.seq[from_pile],
            ack=self.seq[not from_pile] if ack is None else ack,
            flags=flags,
            win=65535,
            data=data,
        )
        if flags == dpkt.tcp.TH_SYN:
            tcp.ack = 0
        ip = dpkt.ip.IP(
            src=PILE_IP if from_pile else PLATFORM_IP,
            dst=PLATFORM_IP if from_pile else PILE_IP,
            p=dpkt.ip.IP_PROTO_TCP,
            ttl=64,
            data=tcp,
        )
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(
            src=PILE_MAC if from_pile else PLATFORM_MAC,
            dst=PLATFORM_MAC if from_pile else PILE_MAC,
            type=dpkt.ethernet.ETH_TYPE_IP,
            data=ip,
        )
        self.time += 0.01
        self._writer.writepkt(bytes(eth), ts=self.time)

    def close(self) -> None:
        self._file.close()
