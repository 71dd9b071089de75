"""``simrig proxy``: the fault-injecting proxy between real piles and a backend (issue 12).

Relays every pile connection to ``--upstream`` through the link model with the faults of
``--faults`` (:mod:`simrig.scenarios.fault_file`), writes ``capture.pcapng`` and
``frames.jsonl`` into ``--out`` as it goes, shows the piles and sessions live (a rich
table on a terminal, a status line every ``--status-every`` seconds otherwise), and at
the end (``--duration``, Ctrl-C or SIGTERM) judges each session from the frames alone
(:func:`simrig.oracle.frames_only.judge_frames`): a table and ``proxy.json``.

Exit codes: 0 ended by ``--duration``, 4 ended by a signal (the report is written either
way), 2 bad input (an address, the fault file, a listen address in use). A dead backend
does not stop the proxy: each pile connection is closed and the report says so.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table

from simrig.cli.common import fail
from simrig.exit_codes import ExitCode

if TYPE_CHECKING:
    from simrig.capture.formats import CaptureWriter
    from simrig.capture.record import Chunk
    from simrig.endpoint import Event
    from simrig.oracle.frames_only import LiveSessions

__all__ = ["register"]


def _hostport(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        fail(f"{option} {text!r}: expected HOST:PORT")
    return host or "127.0.0.1", int(port)


class _Recorder:
    """Streams what the proxy saw into the capture files and the live summary."""

    def __init__(self, out: Path, live: LiveSessions) -> None:
        from simrig.capture.formats import open_writer

        self.jsonl_path = out / "frames.jsonl"
        self.writers: list[CaptureWriter] = [
            open_writer(out / "capture.pcapng"),
            open_writer(self.jsonl_path),
        ]
        self.live = live
        self.events: list[Event] = []
        self.chunks = 0

    def chunk(self, chunk: Chunk) -> None:
        self.chunks += 1
        for writer in self.writers:
            writer.write(chunk)
        self.live.feed(chunk)

    def event(self, event: Event, wall: Any) -> None:
        self.events.append(event)
        conn = event.data.get("conn") if event.data else None
        conn_id = conn if isinstance(conn, int) else None
        row = self.live.pile(event.source)
        if event.kind == "connected":
            row.connected, row.peer = True, str(event.data.get("peer", ""))
            for writer in self.writers:
                writer.connected(event.source, wall(event.t), conn_id)
        elif event.kind == "closed":
            row.connected = False
            for writer in self.writers:
                writer.disconnected(event.source, wall(event.t), conn_id)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def _live_table(live: LiveSessions, proxy: Any, elapsed: float) -> Group:
    piles = Table(title=f"simrig proxy — {elapsed:.0f} s, {proxy.accepted} connections")
    for col in ("pile", "peer", "link", "frames ↑", "frames ↓", "faults"):
        piles.add_column(col)
    for row in sorted(live.piles.values(), key=lambda r: r.pile_no)[:40]:
        plink = proxy.links.get(row.pile_no)
        faults = ""
        if plink is not None:
            up, down = plink.link.up.stats, plink.link.down.stats
            dropped = sum(s.lost_outage + s.lost_random + s.dropped_by_rule for s in (up, down))
            faults = f"{dropped} dropped" if dropped else ""
        state = "up" if row.connected else "closed"
        counts = (str(row.frames_up), str(row.frames_down))
        piles.add_row(row.pile_no, row.peer, state, *counts, faults)
    sessions = Table(title="sessions")
    for col in ("pile", "gun", "serial", "energy kWh", "state"):
        sessions.add_column(col)
    for s in list(live.sessions.values())[-20:]:
        sessions.add_row(s.pile_no, str(s.gun), s.serial[-12:], f"{s.energy_kwh:.2f}", s.state)
    return Group(piles, sessions)


def _status_line(live: LiveSessions, proxy: Any, elapsed: float) -> str:
    connected = sum(r.connected for r in live.piles.values())
    frames = sum(r.frames_up + r.frames_down for r in live.piles.values())
    acked = sum(s.acked for s in live.sessions.values())
    return (
        f"proxy {elapsed:.0f}s: {connected} piles connected, {proxy.accepted} connections, "
        f"{frames} frames, {len(live.sessions)} sessions ({acked} bills acked)"
    )


async def _serve(
    listen: tuple[str, int],
    upstream: tuple[str, int],
    faults: Any,
    speed: float,
    duration: float | None,
    status_every: float,
    recorder: _Recorder,
    console: Console,
) -> tuple[Any, bool]:
    """Run until ``duration`` or a signal; return the proxy and whether a signal ended it."""
    from rich.live import Live

    from simrig.adapters.proxy import Proxy
    from simrig.adapters.realtime import signals_end

    done = asyncio.Event()
    interrupted = False

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        done.set()

    proxy = Proxy(upstream, faults, speed=speed, on_chunk=recorder.chunk)
    proxy.on_event = lambda e: recorder.event(e, proxy.wall)
    loop = asyncio.get_running_loop()
    with signals_end(loop, on_signal):
        host, port = await proxy.start(*listen)
        print(f"listening on {host}:{port} upstream {upstream[0]}:{upstream[1]}", flush=True)
        if duration is not None:
            loop.call_later(duration, done.set)
        started = time.monotonic()
        tty = console.is_terminal
        live = Live(console=console, refresh_per_second=2) if tty else None
        try:
            if live is not None:
                live.start()
            while not done.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.5 if tty else status_every)
                elapsed = time.monotonic() - started
                if live is not None:
                    live.update(_live_table(recorder.live, proxy, elapsed))
                elif not done.is_set():
                    print(_status_line(recorder.live, proxy, elapsed), flush=True)
        finally:
            if live is not None:
                live.stop()
            await proxy.close()
    return proxy, interrupted


def _verdict_table(report: dict[str, Any]) -> Table:
    table = Table(title="sessions judged from the frames alone")
    for col in ("pile", "gun", "serial", "kWh", "stop reason", "bill", "sent", "acks", "lost"):
        table.add_column(col)
    for s in report["sessions"]:
        table.add_row(
            s["pile"],
            str(s["gun"]),
            s["serial"][-12:],
            f"{s['energy_kwh']:.2f}",
            s["stop_reason"],
            s["bill"],
            str(s["bill_transmissions"]),
            str(s["acks_received"]),
            "[red]yes[/red]" if s["lost"] else "no",
        )
    return table


def proxy(
    listen: Annotated[str, typer.Option(help="Where piles connect: HOST:PORT (port 0: any)")],
    upstream: Annotated[str, typer.Option(help="The backend: HOST:PORT")],
    faults: Annotated[
        Path | None, typer.Option(help="Fault file (TOML): outages, rules, byte faults")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the capture and proxy.json")] = Path(
        "out/proxy"
    ),
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds (default: Ctrl-C)")
    ] = None,
    speed: Annotated[
        float,
        typer.Option(min=0.001, help="The piles' clock speed (a simulator at --speed N)"),
    ] = 1.0,
    status_every: Annotated[
        float, typer.Option(min=0.1, help="Seconds between status lines when not on a TTY")
    ] = 10.0,
) -> None:
    """Relay piles to a backend through simrig's link faults; capture and judge each session."""
    from simrig.oracle.frames_only import LiveSessions, judge_frames
    from simrig.scenarios.fault_file import FaultFile, FaultFileError, load_fault_file

    listen_at = _hostport(listen, "--listen")
    upstream_at = _hostport(upstream, "--upstream")
    try:
        fault_file = load_fault_file(faults) if faults is not None else FaultFile()
    except FaultFileError as exc:
        fail(str(exc))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out}: {exc.strerror or exc}")
    from simrig.adapters.tcp_server import install_uvloop

    install_uvloop()
    console = Console()
    recorder = _Recorder(out, LiveSessions())
    try:
        proxy_obj, interrupted = asyncio.run(
            _serve(
                listen_at,
                upstream_at,
                fault_file,
                speed,
                duration,
                status_every,
                recorder,
                console,
            )
        )
    except OSError as exc:
        recorder.close()
        print(f"error: --listen {listen}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    recorder.close()
    from simrig.capture.formats import read_chunks

    chunks = read_chunks(recorder.jsonl_path)
    report = judge_frames(chunks, recorder.events)
    report["proxy"] = {
        "listen": listen,
        "upstream": upstream,
        "speed": speed,
        "connections": proxy_obj.accepted,
        "chunks": recorder.chunks,
        "faults": str(faults) if faults else None,
        "links": {
            pile: {
                "connections": plink.connections,
                "up": _stats(plink.link.up.stats),
                "down": _stats(plink.link.down.stats),
                "event_outages": [list(w) for w in _opened(plink.link)],
            }
            for pile, plink in sorted(proxy_obj.links.items())
        },
        "notes": proxy_obj.notes,
        "ended_by": "signal" if interrupted else "duration",
    }
    (out / "proxy.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    console.print(_verdict_table(report))
    for pile in report["piles"]:
        for line in pile["problems"] + pile["backend_deviations"]:
            console.print(f"{pile['pile']}: {line}", highlight=False)
    console.print(report["note"], highlight=False)
    console.print(f"report: {out / 'proxy.json'}")
    raise typer.Exit(ExitCode.INTERRUPTED if interrupted else ExitCode.PASS)


def _opened(link: Any) -> list[tuple[float, float]]:
    """The outage windows the link's event outages opened."""
    return list(link.frames.opened) if link.frames is not None else []


def _stats(stats: Any) -> dict[str, int]:
    from dataclasses import asdict

    return {k: v for k, v in asdict(stats).items() if v}


def register(app: typer.Typer) -> None:
    """Add ``simrig proxy``."""
    app.command("proxy")(proxy)
