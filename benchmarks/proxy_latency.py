"""The fault-injecting proxy's cost: added latency (p50/p99) and throughput (issue 12 item 4).

Starts ``simrig platform serve`` and ``simrig proxy`` (no faults; it still frames, captures
and tracks every byte) as processes, then from this process, alternating direct and
proxied in every round (same session, same backend):

* latency: one logged-in pile per path sends a heartbeat (0x03) and waits for its 0x04
  (§4.3), ``--pings`` times per round; p50/p99 over all rounds, and the proxy's added
  p50/p99 (proxied − direct);
* throughput: ``--conns`` logged-in piles per path each pipeline ``--frames`` heartbeats;
  frames/s = frames relayed both ways (requests + replies) / time until the last reply.

    .venv/bin/python benchmarks/proxy_latency.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simrig.adapters.platform_process import start_platform
from simrig.protocol.ykc import Frame, Framer, Heartbeat, HeartbeatReply, Login, encode_frame

PILES = 200


def config() -> str:
    lines = ["[rules]\nmissed_heartbeats_offline = 1000\n"]
    for i in range(PILES):
        lines.append(f'[[piles]]\npile_no = "{90000000000000 + i}"\ntype = "DC"\nguns = 1\n')
    return "".join(lines)


class Pile:
    def __init__(self, pile_no: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.pile_no = pile_no
        self.reader, self.writer = reader, writer
        self.framer = Framer()
        self.seq = 0
        self.beat = encode_frame(Heartbeat(pile_no=pile_no, gun=1), 0)

    async def replies(self, cls: type, count: int) -> None:
        got = 0
        while got < count:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            frames = self.framer.feed(data)
            got += sum(isinstance(f, Frame) and isinstance(f.message, cls) for f in frames)


async def connect(port: int, index: int) -> Pile:
    pile_no = str(90000000000000 + index)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    pile = Pile(pile_no, reader, writer)
    writer.write(encode_frame(Login(pile_no=pile_no), 0))
    from simrig.protocol.ykc import LoginReply

    await asyncio.wait_for(pile.replies(LoginReply, 1), 10)
    return pile


async def ping(pile: Pile, n: int, out: list[float]) -> None:
    for _ in range(n):
        t = time.perf_counter()
        pile.writer.write(pile.beat)
        await pile.replies(HeartbeatReply, 1)
        out.append(time.perf_counter() - t)


async def blast(piles: list[Pile], frames: int) -> float:
    t = time.perf_counter()

    async def one(p: Pile) -> None:
        p.writer.write(p.beat * frames)
        await p.replies(HeartbeatReply, frames)

    await asyncio.wait_for(asyncio.gather(*(one(p) for p in piles)), 120)
    return 2 * len(piles) * frames / (time.perf_counter() - t)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(args: argparse.Namespace, direct_port: int, proxy_port: int) -> None:
    n = args.conns
    direct = [await connect(direct_port, i) for i in range(n)]
    proxied = [await connect(proxy_port, n + i) for i in range(n)]
    lat: dict[str, list[float]] = {"direct": [], "proxy": []}
    rate: dict[str, list[float]] = {"direct": [], "proxy": []}
    for _ in range(3):  # warm-up
        await ping(direct[0], 20, [])
        await ping(proxied[0], 20, [])
    for r in range(args.rounds):
        order = [("direct", direct), ("proxy", proxied)]
        if r % 2:
            order.reverse()
        for name, piles in order:
            await ping(piles[0], args.pings, lat[name])
        for name, piles in order:
            rate[name].append(await blast(piles, args.frames))
    print(f"rounds={args.rounds} pings/round={args.pings} conns={n} frames/conn={args.frames}")
    print(f"{'path':8} {'p50 µs':>9} {'p99 µs':>9} {'frames/s (median)':>18}")
    for name in ("direct", "proxy"):
        values = lat[name]
        print(
            f"{name:8} {pct(values, 0.5) * 1e6:9.0f} {pct(values, 0.99) * 1e6:9.0f} "
            f"{statistics.median(rate[name]):18,.0f}"
        )
    added50 = (pct(lat["proxy"], 0.5) - pct(lat["direct"], 0.5)) * 1e6
    added99 = (pct(lat["proxy"], 0.99) - pct(lat["direct"], 0.99)) * 1e6
    print(f"added by the proxy: p50 {added50:.0f} µs, p99 {added99:.0f} µs (round trip)")
    for p in direct + proxied:
        p.writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--conns", type=int, default=20)
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    if 2 * args.conns > PILES:
        parser.error(f"--conns at most {PILES // 2}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "platform.toml"
        cfg.write_text(config())
        options = ["--listen", "127.0.0.1:0", "--http", "off", "--db", f"{tmp}/p.sqlite"]
        server = start_platform([*options, "--config", str(cfg)], 60.0)
        cmd = [sys.executable, "-m", "simrig", "proxy", "--listen", "127.0.0.1:0"]
        cmd += ["--upstream", f"127.0.0.1:{server.port}", "--out", f"{tmp}/proxy"]
        proxy = subprocess.Popen(
            [*cmd, "--status-every", "3600"], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proxy.stdout is not None
            line = proxy.stdout.readline()
            proxy_port = int(line.split()[2].rsplit(":", 1)[1])
            asyncio.run(measure(args, server.port, proxy_port))
        finally:
            proxy.terminate()
            proxy.wait(timeout=60)
            server.stop()


if __name__ == "__main__":
    main()
