"""Capture writers and readers by suffix: round trips, streams, reassembly, reconnects."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import dpkt
import pytest

from simrig.capture import Chunk, LinkEvent
from simrig.capture.formats import (
    READERS,
    WRITERS,
    open_writer,
    read_capture,
    read_chunks,
    run_items,
    write_capture,
)
from simrig.capture.pcap import read_pcap
from simrig.capture.tcp import TcpSynth, pile_address
from simrig.cli.decode import decode_capture
from simrig.protocol.ykc import Frame, Heartbeat, Login, encode_frame
from simrig.sim.results import RunResult

T0 = datetime(2024, 3, 1, 8, 0, 0)
PILE = "32010200000001"


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def _login(seq: int = 0) -> bytes:
    return encode_frame(Login(pile_no=PILE, firmware_version="2090404"), seq)


def _heartbeat(seq: int) -> bytes:
    return encode_frame(Heartbeat(pile_no=PILE, gun=1), seq)


def _links(items: list[Chunk | LinkEvent]) -> list[tuple[str, str]]:
    return [(i.pile_no, i.kind) for i in items if isinstance(i, LinkEvent)]


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_round_trip_of_a_run(zpd12: RunResult, tmp_path: Path, suffix: str) -> None:
    """write → read gives the run's chunks back: bytes, times, piles and directions."""
    path = write_capture(
        tmp_path / f"run{suffix}",
        run_items(zpd12.chunks, zpd12.events, zpd12.wall),
        list(zpd12.profiles),
        zpd12.wall(zpd12.duration_s),
    )
    assert read_chunks(path) == zpd12.chunks


def test_registry_covers_every_suffix_both_ways() -> None:
    assert set(WRITERS) == set(READERS) == {".pcapng", ".pcap", ".jsonl", ".hex"}
    with pytest.raises(ValueError, match="unknown capture suffix"):
        open_writer("capture.txt")


@pytest.mark.parametrize("suffix", [".pcapng", ".pcap"])
def test_one_stream_per_connection_with_handshake(
    zpd12: RunResult, tmp_path: Path, suffix: str
) -> None:
    """zpd_case#12 reconnects after the outage: two streams, each SYN/SYN-ACK/ACK … FIN."""
    path = write_capture(
        tmp_path / f"run{suffix}",
        run_items(zpd12.chunks, zpd12.events, zpd12.wall),
        list(zpd12.profiles),
        zpd12.wall(zpd12.duration_s),
    )
    connects = [e for e in zpd12.events if e.kind == "connected"]
    assert len(connects) == 2
    streams: dict[int, list[int]] = {}
    with open(path, "rb") as f:
        reader = dpkt.pcapng.Reader(f) if suffix == ".pcapng" else dpkt.pcap.Reader(f)
        for _ts, buf in reader:
            tcp = dpkt.ethernet.Ethernet(buf).data.data
            port = tcp.sport if tcp.dport == 8767 else tcp.dport
            streams.setdefault(port, []).append(tcp.flags)
    assert len(streams) == 2
    syn, ack, fin = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN
    for flags in streams.values():
        assert flags[:3] == [syn, syn | ack, ack]
        assert flags[-3:] == [fin | ack, fin | ack, ack]
    items = list(read_capture(path))
    pile = connects[0].source
    assert _links(items) == [(pile, "connected"), (pile, "disconnected")] * 2
    link_times = [i.at for i in items if isinstance(i, LinkEvent)]
    assert link_times[:3] == [
        zpd12.wall(e.t)
        for e in zpd12.events
        if e.kind
        in (
            "connected",
            "disconnected",
        )
    ]


def test_a_frame_split_across_segments_is_reassembled(tmp_path: Path) -> None:
    """A frame written as two chunks (two TCP segments), and a chunk longer than the MSS,
    decode as whole frames from the pcapng."""
    login = _login()
    beats = b"".join(_heartbeat(i) for i in range(1, 200))  # > 1 MSS in one chunk
    path = tmp_path / "split.pcapng"
    with open_writer(path, [PILE]) as w:  # type: ignore[attr-defined]
        w.connected(PILE, _at(0))
        w.write(Chunk(_at(0), PILE, "up", login[:10]))
        w.write(Chunk(_at(0.5), PILE, "up", login[10:]))
        w.write(Chunk(_at(1), PILE, "up", beats))
        w.disconnected(PILE, _at(2))
    with open(path, "rb") as f:
        sizes = [len(dpkt.ethernet.Ethernet(b).data.data.data) for _t, b in dpkt.pcapng.Reader(f)]
    assert sizes.count(1460) >= 2  # the long chunk went out as MSS-sized segments
    chunks = read_chunks(path)
    assert [c.data for c in chunks] == [login[:10], login[10:], beats]
    frames = [f for _c, f in decode_capture(path, tolerant=False)]
    assert all(isinstance(f, Frame) for f in frames)
    assert [f.name for f in frames if isinstance(f, Frame)] == ["login"] + ["heartbeat"] * 199


@pytest.mark.parametrize("ack_after", [1, 2 * 1460])
def test_tcp_numbers_add_up(ack_after: int) -> None:
    """Sequence numbers advance by the payload; every ack names the peer's next byte; a
    pure ACK comes once ``ack_after`` bytes are unacked."""
    tcp = TcpSynth([PILE], ack_after=ack_after)
    packets = tcp.connected(PILE, 0)
    packets += tcp.data(PILE, True, b"x" * 100, 1)
    packets += tcp.data(PILE, True, b"y" * 50, 2)  # ack_after=1: the backend acks 100 first
    packets += tcp.data(PILE, False, b"z" * 10, 3)
    packets += tcp.disconnected(PILE, 4)
    segs = [dpkt.ethernet.Ethernet(b).data.data for _us, b in packets]
    up = [s for s in segs if s.dport == 8767]
    down = [s for s in segs if s.sport == 8767]
    base_up, base_down = up[0].seq, down[0].seq
    assert [s.seq - base_up for s in up] == [0, 1, 1, 101, 151, 152]
    assert [s.ack - base_down for s in up if s.flags & dpkt.tcp.TH_ACK] == [1, 1, 1, 11, 12]
    acks = [1, 101, 151, 152] if ack_after == 1 else [1, 151, 152]
    assert [s.ack - base_up for s in down] == acks
    assert pile_address(0) == "10.0.0.2" and pile_address(300) == "10.0.1.46"
    # checksums as dpkt computes them
    for _us, raw in packets:
        ip = dpkt.ethernet.Ethernet(raw).data
        sums = (ip.sum, ip.data.sum)
        ip.sum = ip.data.sum = 0
        again = dpkt.ethernet.Ethernet(bytes(dpkt.ethernet.Ethernet(dst=b"\0" * 6, data=ip)))
        assert (again.data.sum, again.data.data.sum) == sums


def test_pcap_reader_names_piles_from_frames(tmp_path: Path) -> None:
    """A classic pcap has no pile map: piles are named from their login's pile_no."""
    path = write_capture(
        tmp_path / "c.pcap",
        [
            LinkEvent(_at(0), PILE, "connected", 1),
            Chunk(_at(0), PILE, "up", _login()),
            LinkEvent(_at(1), PILE, "disconnected", 1),
        ],
    )
    assert [c.pile_no for c in read_chunks(path)] == [PILE]
    assert [i.pile_no for i in read_pcap(path) if isinstance(i, LinkEvent)] == [PILE] * 2


def test_sample_and_stale_disconnects(tmp_path: Path) -> None:
    """A disconnect of an older connection does not close the current stream; chunks
    with no open connection open one (a capture that starts mid-connection)."""
    path = write_capture(
        tmp_path / "c.pcapng",
        [
            Chunk(_at(0), PILE, "up", _login()),  # no connected event before it
            LinkEvent(_at(1), PILE, "connected", 2),
            LinkEvent(_at(1), PILE, "disconnected", 1),  # stale: conn 1 is gone
            Chunk(_at(2), PILE, "up", _heartbeat(1)),
        ],
        [PILE],
        end=_at(3),
    )
    items = list(read_capture(path))
    assert _links(items) == [(PILE, "connected"), (PILE, "disconnected")] * 2
    assert [c.at for c in items if isinstance(c, Chunk)] == [_at(0), _at(2)]


def test_text_formats_keep_bare_hex_compatible(tmp_path: Path) -> None:
    path = tmp_path / "old.hex"
    path.write_text(_login().hex(" ").upper() + "\n\n" + _heartbeat(1).hex() + "\n")
    assert [c.data for c in read_chunks(path)] == [_login(), _heartbeat(1)]


def test_jsonl_lists_split_frames_once_and_reports_garbage(tmp_path: Path) -> None:
    """The tolerant framer takes what is not a clean run of frames: a frame split across
    chunks is one line, stray bytes and a truncated tail are error lines."""
    login, beat = _login(), _heartbeat(1)
    path = write_capture(
        tmp_path / "frames.jsonl",
        [
            Chunk(_at(0), PILE, "up", b"\x68\x00"),
            Chunk(_at(1), PILE, "up", login[:5]),
            Chunk(_at(2), PILE, "up", login[5:] + beat),
            Chunk(_at(3), PILE, "up", beat[:6]),
        ],
    )
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get("name") or r["error"] for r in rows][-3:] == ["login", "heartbeat", "truncated"]
    assert any(r.get("error") for r in rows[:-3])
    assert [r["hex"] for r in rows if r.get("name")] == [login.hex(), beat.hex()]
