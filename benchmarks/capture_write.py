"""Capture writing cost (issue 12 item 1): per packet by library, and on a station-week.

    python benchmarks/capture_write.py [--packets 5000] [--rounds 5] [--week station_week_2090104]

1. µs per packet of the candidates (each builds an Ethernet/IPv4/TCP packet with a 150-byte
   payload and writes it as pcapng; a library not installed is skipped): scapy
   (``Ether()/IP()/TCP()`` + ``PcapNgWriter``), python-pcapng (blocks; packets from dpkt),
   dpkt objects per packet (+ ``pcapng.Writer.writepkts``), and simrig's writer
   (:class:`simrig.capture.pcap.PcapngWriter`: dpkt's writer, packets from a struct
   template, checksums from per-side sums).
2. A golden station-week (``tests/golden/digest.py``) run with and without writing its
   capture (``capture.pcapng`` + ``frames.jsonl``), interleaved, medians of wall and CPU
   time.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAYLOAD = bytes(range(150))


def per_packet(name: str, fn: Callable[[int], None], n: int) -> None:
    try:
        fn(10)
    except ImportError as exc:
        print(f"  {name:<44} skipped ({exc.name} not installed)")
        return
    started = time.process_time()  # CPU time: other load on the machine does not count
    fn(n)
    print(f"  {name:<44} {(time.process_time() - started) / n * 1e6:8.1f} µs/packet (CPU)")


def scapy_writer(n: int) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import PcapNgWriter

    with tempfile.TemporaryDirectory() as tmp:
        w = PcapNgWriter(str(Path(tmp) / "s.pcapng"))
        for i in range(n):
            p = (
                Ether()
                / IP(src="10.0.0.2", dst="10.0.0.1")
                / TCP(sport=40001, dport=8767, seq=i * 150, ack=1, flags="PA")
                / Raw(PAYLOAD)
            )
            p.time = 1.6e9 + i
            w.write(p)
        w.close()


def _dpkt_packet(i: int) -> bytes:
    import dpkt

    tcp = dpkt.tcp.TCP(sport=40001, dport=8767, seq=i * 150, ack=1, flags=0x18, data=PAYLOAD)
    ip = dpkt.ip.IP(src=b"\x0a\0\0\x02", dst=b"\x0a\0\0\x01", p=6, id=i & 0xFFFF, data=tcp)
    return bytes(dpkt.ethernet.Ethernet(src=b"\x02" * 6, dst=b"\x02" * 6, data=ip))


def python_pcapng_writer(n: int) -> None:
    from pcapng import FileWriter, blocks

    shb = blocks.SectionHeader(options={"shb_userappl": "simrig"})
    shb.new_member(blocks.InterfaceDescription, link_type=1)
    w = FileWriter(io.BytesIO(), shb)
    for i in range(n):
        epb = shb.new_member(blocks.EnhancedPacket)
        epb.packet_data = _dpkt_packet(i)
        epb.timestamp_high, epb.timestamp_low = 0, i
        w.write_block(epb)


def dpkt_objects(n: int) -> None:
    import dpkt

    w = dpkt.pcapng.Writer(io.BytesIO())
    w.writepkts((1.6e9 + i, _dpkt_packet(i)) for i in range(n))


def simrig_writer(n: int) -> None:
    from simrig.capture import Chunk
    from simrig.capture.pcap import PcapngWriter

    t0 = datetime(2024, 3, 1)
    w = PcapngWriter(io.BytesIO(), ["32010200000001"])
    for i in range(n // 2):  # alternate directions: one data packet per chunk
        at = t0 + timedelta(seconds=i)
        w.write(Chunk(at, "32010200000001", "up" if i % 2 else "down", PAYLOAD))
    w.close()
    assert w.packets >= n // 2


def station_week(name: str, rounds: int) -> None:
    from simrig.report.folder import write_capture_files
    from simrig.scenarios.workload import station_workload
    from simrig.sim.runner import run_scenario
    from tests.golden.digest import STATION_WEEKS

    spec = STATION_WEEKS[name]
    scenario = station_workload(spec, random.Random(spec.seed), name=name)
    times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    only: list[float] = []
    chunks = packets = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds * 2):
            capture = bool(i % 2)
            wall, cpu = time.perf_counter(), time.process_time()
            result = run_scenario(scenario)
            if capture:
                c0 = time.process_time()
                paths = write_capture_files(result, Path(tmp))
                only.append(time.process_time() - c0)
                chunks, packets = len(result.chunks), paths[0].stat().st_size
            times[capture].append((time.perf_counter() - wall, time.process_time() - cpu))
    for capture, label in ((False, "without capture"), (True, "with capture")):
        wall = statistics.median(w for w, _ in times[capture])
        cpu = statistics.median(c for _, c in times[capture])
        print(f"  {label:<16} median wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    for i, unit in ((0, "wall"), (1, "CPU")):
        base = statistics.median(t[i] for t in times[False])
        added = statistics.median(t[i] for t in times[True]) - base
        print(f"  run + capture vs run: {added / base * 100:+.1f} % ({unit} medians)")
    cpu = statistics.median(only)
    print(
        f"  capture writing alone: median {cpu:.3f} s CPU for {chunks} chunks "
        f"({cpu / chunks * 1e6:.1f} µs/chunk, pcapng {packets / 1e6:.1f} MB), "
        f"{cpu / statistics.median(c for _, c in times[False]) * 100:.1f} % of the run's CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--week", default="station_week_2090104")
    args = parser.parse_args()
    print(f"per packet ({args.packets} packets, 150-byte payload, pcapng):")
    per_packet("scapy (build + PcapNgWriter)", scapy_writer, max(200, args.packets // 10))
    per_packet("python-pcapng blocks (+ dpkt packets)", python_pcapng_writer, args.packets)
    per_packet("dpkt objects + pcapng.Writer.writepkts", dpkt_objects, args.packets)
    per_packet("simrig PcapngWriter (dpkt writer, template)", simrig_writer, args.packets)
    print(f"{args.week}, {args.rounds} rounds each, interleaved:")
    station_week(args.week, args.rounds)


if __name__ == "__main__":
    main()
