"""Scale of ``simrig load`` at real cadence against the reference platform (issue 13).

For each pile count: the reference platform in its own process (``simrig platform
serve``, provisioned with the plan's site), then — alternately, never alongside —
``simrig load`` (the real firmware models, speed 1) and a minimal baseline client
(bare asyncio: per pile one TCP connection, a login, a heartbeat every 10 s with spread
phases, nothing else). For each: RSS per pile (peak RSS sampled every second from
/proc), CPU (user + system over wall), timer lag p99 and backend heartbeat p99.

    .venv/bin/python benchmarks/load_scale.py --piles 1000 5000 10000 --hold 120

Each run takes ramp + hold seconds of wall time (bounded); the machine's other load is
not controlled: quote the figures with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simrig.adapters.platform_process import start_platform

PROFILE = "sinexcel-dc@2090404"
FIRST = 32010200000001
TICK = os.sysconf("SC_CLK_TCK")


def _proc(pid: int) -> tuple[int, float]:
    """(RSS bytes, CPU seconds) of a process from /proc."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / TICK


def watch(cmd: list[str], timeout_s: float) -> tuple[int, float, float, int]:
    """Run ``cmd``; (peak RSS, CPU s, wall s, exit code), sampled every second."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, cpu = 0, 0.0
    while proc.poll() is None and time.monotonic() - started < timeout_s:
        try:
            rss, cpu = _proc(proc.pid)
            peak = max(peak, rss)
        except (OSError, StopIteration, IndexError):
            pass
        time.sleep(1.0)
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate()
    if proc.returncode not in (0, 1):
        print(err[-2000:], file=sys.stderr)
    return peak, cpu, time.monotonic() - started, proc.returncode


# -- the baseline: a bare asyncio heartbeat pile -----------------------------------------------
def _frame(seq: int, kind: int, body: bytes) -> bytes:
    from simrig.protocol.ykc.crc import crc16_modbus

    inner = seq.to_bytes(2, "big") + b"\x00" + bytes([kind]) + body
    crc = crc16_modbus(inner)
    return b"\x68" + bytes([len(inner)]) + inner + crc.to_bytes(2, "little")


async def _baseline_pile(pile_no: str, host: str, port: int, start: float, until: float,
                         lags: list[float]) -> None:  # fmt: skip
    from simrig.protocol.ykc import Heartbeat, Login, PileType, encode_frame

    await asyncio.sleep(max(0.0, start - time.monotonic()))
    reader, writer = await asyncio.open_connection(host, port)
    login = Login(pile_no=pile_no, pile_type=PileType.DC, gun_count=1, protocol_version=1.6,
                  firmware_version="baseline")  # fmt: skip
    writer.write(encode_frame(login, 1))
    await reader.read(4096)
    seq, due = 1, time.monotonic() + 10.0
    while due < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        lags.append(time.monotonic() - due)
        seq += 1
        writer.write(encode_frame(Heartbeat(pile_no=pile_no, gun=1), seq))
        await reader.read(4096)
        due += 10.0
    writer.close()


async def _baseline(piles: int, host: str, port: int, ramp: float, hold: float) -> dict:
    t0 = time.monotonic()
    until = t0 + ramp + hold
    rng = random.Random(1)
    lags: list[float] = []
    await asyncio.gather(
        *(
            _baseline_pile(str(FIRST + i), host, port, t0 + rng.uniform(0, ramp), until, lags)
            for i in range(piles)
        ),
        return_exceptions=True,
    )
    lags.sort()
    return {"lag_p99_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags else None}


def baseline_main() -> None:
    piles, host, port, ramp, hold, out = sys.argv[2:8]
    from simrig.adapters.tcp_server import install_uvloop
    from simrig.load.workers import raise_open_files

    raise_open_files(int(piles))
    install_uvloop()
    result = asyncio.run(_baseline(int(piles), host, int(port), float(ramp), float(hold)))
    Path(out).write_text(json.dumps(result))


def steady_memory(series: list[dict], ramp: float, piles: int) -> dict:
    """RSS after the ramp and at the end (flat memory: the two are close), per pile."""
    after = [row["rss_kb"] for row in series if row["t"] >= ramp + 5]
    if not after:
        return {}
    return {
        "rss_after_ramp_mb": round(after[0] / 1024),
        "rss_end_mb": round(after[-1] / 1024),
        "steady_kb_per_pile": round(after[-1] / piles, 1),
    }


# -- the grid ----------------------------------------------------------------------------------
def run(piles: int, ramp: float, hold: float, folder: Path, baseline: bool = True) -> dict:
    site = folder / f"site{piles}.toml"
    simrig = [sys.executable, "-m", "simrig", "load"]
    plan = ["--piles", str(piles), "--profile", PROFILE, "--sessions-per-pile-hour", "0.5"]
    subprocess.run([*simrig, *plan, "--site-toml", str(site)], check=True)
    server = start_platform(
        ["--listen", "127.0.0.1:0", "--http", "off", "--db", str(folder / f"p{piles}.sqlite"),
         "--config", str(site)], timeout_s=300,
    )  # fmt: skip
    row: dict = {"piles": piles}
    try:
        out = folder / f"load{piles}"
        cmd = [*simrig, *plan, "--backend", f"tcp://127.0.0.1:{server.port}", "--no-live"]
        cmd += ["--duration", f"{ramp + hold:g}s", "--ramp", f"{ramp:g}s", "--out", str(out)]
        cmd += ["--status-every", "30"]
        srv_cpu0 = _proc(server.proc.pid)[1]
        peak, cpu, wall, code = watch(cmd, ramp + hold + 600)
        data = json.loads((out / "load.json").read_text())
        srv_rss, srv_cpu = _proc(server.proc.pid)
        row.update(
            simrig_exit=code,
            simrig_kb_per_pile=round(peak / 1024 / piles, 1),
            **steady_memory(data["series"], ramp, piles),
            simrig_cpu=round(cpu / wall, 2),
            simrig_lag_p99_ms=data["timer_lag_ms"]["p99"],
            backend_hb_p99_ms=data["latency_ms"]["heartbeat"]["backend"]["p99"],
            backend_hb_p50_ms=data["latency_ms"]["heartbeat"]["backend"]["p50"],
            logins=data["counters"]["logins"],
            reconnects=data["counters"]["reconnects"],
            bills=f"{data['counters']['bills_acked']}/{data['counters']['bills_uploaded']}",
            platform_rss_mb=round(srv_rss / 2**20),
            platform_cpu=round((srv_cpu - srv_cpu0) / wall, 2),
        )
        if not baseline:
            return row
        res = folder / f"base{piles}.json"
        cmd = [sys.executable, __file__, "--baseline", str(piles), "127.0.0.1",
               str(server.port), f"{ramp:g}", f"{hold:g}", str(res)]  # fmt: skip
        peak, cpu, wall, _ = watch(cmd, ramp + hold + 300)
        base = json.loads(res.read_text()) if res.exists() else {}
        row.update(
            base_kb_per_pile=round(peak / 1024 / piles, 1),
            base_cpu=round(cpu / wall, 2),
            base_lag_p99_ms=base.get("lag_p99_ms"),
        )
        row["rss_ratio"] = round(row["simrig_kb_per_pile"] / max(row["base_kb_per_pile"], 1e-9), 1)
        row["cpu_ratio"] = round(row["simrig_cpu"] / max(row["base_cpu"], 1e-9), 1)
    finally:
        server.stop()
    return row


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--baseline":
        baseline_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--piles", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--ramp", type=float, default=60.0)
    parser.add_argument("--hold", type=float, default=120.0)
    parser.add_argument("--no-baseline", action="store_true", help="simrig only")
    parser.add_argument("--keep", type=Path, help="copy each load.json into this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for piles in args.piles:
            row = run(piles, args.ramp, args.hold, Path(tmp), not args.no_baseline)
            print(json.dumps(row), flush=True)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(
                    Path(tmp) / f"load{piles}" / "load.json", args.keep / f"load{piles}.json"
                )


if __name__ == "__main__":
    main()
