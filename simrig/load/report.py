"""A load run's outputs: live view, ``load.json``, the plot, and the CI thresholds.

Live: a rich dashboard on a TTY, else one status line every N seconds (CI logs). At the
end ``load.json`` holds every figure; ``load.png`` shows latency percentiles, the
driver's timer lag and throughput over time. :func:`check_thresholds` gives the failed
thresholds (exit 1 when any failed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group as RichGroup
from rich.table import Table

from .histograms import merge_into, new_histogram, summary_ms
from .metrics import KINDS
from .runner import LoadFigures, latency_table

__all__ = [
    "Live",
    "Thresholds",
    "check_thresholds",
    "parse_p99",
    "plot",
    "summary",
    "write_json",
]


def _p(encoded: str, pct: float) -> float:
    h = new_histogram()
    merge_into(h, encoded)
    return h.get_value_at_percentile(pct) / 1000 if h.get_total_count() else 0.0


@dataclass
class Live:
    """Turns ticks (snapshot rows) into a status line or a dashboard table."""

    duration_s: float
    piles: int
    speed: float = 1.0
    _last: dict[str, Any] | None = None
    rates: dict[str, float] = field(default_factory=dict)

    def update(self, row: dict[str, Any]) -> None:
        last = self._last
        dt = row["t"] - last["t"] if last else row["t"]
        if dt > 0:
            for key in ("frames_up", "frames_down"):
                before = last[key] if last else 0
                self.rates[key] = (row[key] - before) / dt
        self._last = row

    def line(self) -> str:
        row = self._last
        if row is None:
            return "load: starting"
        return (
            f"load t={row['t']:.0f}s/{self.duration_s / self.speed:.0f}s "
            f"piles {row['logged_in']}/{row['connected']}/{row['piles_started']}/{self.piles} "
            f"(in/conn/started/all) "
            f"frames/s up {self.rates.get('frames_up', 0):.0f} "
            f"down {self.rates.get('frames_down', 0):.0f} "
            f"reply p50 {_p(row['backend_all'], 50):.1f}ms p99 {_p(row['backend_all'], 99):.1f}ms "
            f"hb p99 {_p(row['heartbeat'], 99):.1f}ms "
            f"timer lag p99 {_p(row['timer_lag'], 99):.1f}ms "
            f"bills {row['bills_acked']}/{row['bills_uploaded']} "
            f"reconnects {row['reconnects']} login failures {row['login_failures']}"
        )

    def table(self) -> Table:
        row = self._last or {}
        table = Table(title="simrig load", show_header=False)
        if not row:
            table.add_row("starting", "")
            return table
        table.add_row("time", f"{row['t']:.0f} s of {self.duration_s / self.speed:.0f} s")
        table.add_row(
            "piles",
            f"{row['logged_in']} logged in, {row['connected']} connected, "
            f"{row['piles_started']} powered up of {self.piles}",
        )
        table.add_row(
            "frames/s",
            f"up {self.rates.get('frames_up', 0):.0f}, down {self.rates.get('frames_down', 0):.0f}",
        )
        table.add_row(
            "backend reply (last tick)",
            f"p50 {_p(row['backend_all'], 50):.1f} ms, p99 {_p(row['backend_all'], 99):.1f} ms; "
            f"heartbeat p99 {_p(row['heartbeat'], 99):.1f} ms",
        )
        table.add_row("driver timer lag p99", f"{_p(row['timer_lag'], 99):.1f} ms")
        table.add_row("bills acked / uploaded", f"{row['bills_acked']} / {row['bills_uploaded']}")
        table.add_row("reconnects, login failures", f"{row['reconnects']}, {row['login_failures']}")
        return table

    def renderable(self) -> RichGroup:
        return RichGroup(self.table())


@dataclass(frozen=True)
class Thresholds:
    """``--max-p99-ms TYPE=MS`` (the backend's latency), ``--max-lost-bills``,
    ``--max-login-failures``; None: not checked."""

    p99_ms: dict[str, float] = field(default_factory=dict)
    lost_bills: int | None = None
    login_failures: int | None = None


def parse_p99(items: Sequence[str]) -> dict[str, float]:
    """``heartbeat=200`` … → {kind: ms}; an unknown kind or a bad number is bad input."""
    out = {}
    for item in items:
        kind, sep, ms = item.partition("=")
        if not sep or kind not in KINDS:
            raise ValueError(
                f"--max-p99-ms {item!r}: expected TYPE=MS with TYPE one of {', '.join(KINDS)}"
            )
        try:
            out[kind] = float(ms)
        except ValueError:
            raise ValueError(f"--max-p99-ms {item!r}: {ms!r} is not a number") from None
    return out


def login_failures(figures: LoadFigures) -> int:
    c = figures.counters
    return int(c["login_refused"] + c["login_timeouts"] + c["connect_failures"])


def check_thresholds(figures: LoadFigures, limits: Thresholds) -> list[str]:
    """One line per failed threshold."""
    failed = []
    table = latency_table(figures)
    for kind, limit in limits.p99_ms.items():
        got = table[kind]["backend"]
        if got["count"] and got["p99"] > limit:
            failed.append(f"{kind} p99 {got['p99']:.1f} ms > {limit:g} ms")
        elif not got["count"]:
            failed.append(f"{kind} p99: no {kind} reply measured (limit {limit:g} ms)")
    if limits.lost_bills is not None and figures.bills_never_acked > limits.lost_bills:
        failed.append(f"bills never acked {figures.bills_never_acked} > {limits.lost_bills}")
    if limits.login_failures is not None and login_failures(figures) > limits.login_failures:
        failed.append(f"login failures {login_failures(figures)} > {limits.login_failures}")
    return failed


def summary(figures: LoadFigures, failed: list[str], notes: list[str]) -> dict[str, Any]:
    """Everything for ``load.json`` (the encoded histograms stay out; percentiles in)."""
    lag = new_histogram()
    merge_into(lag, figures.timer_lag)
    series = []
    for row in figures.series:
        out = {k: v for k, v in row.items() if k not in ("backend_all", "heartbeat", "timer_lag")}
        for key in ("backend_all", "heartbeat", "timer_lag"):
            out[f"{key}_p50_ms"] = round(_p(row[key], 50), 3)
            out[f"{key}_p99_ms"] = round(_p(row[key], 99), 3)
        series.append(out)
    data = asdict(figures)
    for key in ("backend", "pile", "timer_lag", "series"):
        data.pop(key)
    data.update(
        latency_ms=latency_table(figures),
        timer_lag_ms=summary_ms(lag),
        login_failures=login_failures(figures),
        thresholds_failed=failed,
        notes=notes,
        series=series,
    )
    return data


def write_json(data: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "load.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def plot(data: dict[str, Any], out: Path) -> Path:
    """``load.png``: reply latency p50/p99, heartbeat p99 and timer lag p99 per tick;
    frames/s each way and piles logged in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = data["series"]
    t = [row["t"] for row in series]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for key, label in (
        ("backend_all_p50_ms", "backend reply p50"),
        ("backend_all_p99_ms", "backend reply p99"),
        ("heartbeat_p99_ms", "heartbeat p99"),
        ("timer_lag_p99_ms", "driver timer lag p99"),
    ):
        top.plot(t, [row[key] for row in series], label=label)
    top.set_ylabel("ms")
    top.set_title(f"simrig load: {data['piles']} piles")
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    for key in ("frames_up", "frames_down"):
        values = [row[key] for row in series]
        rates = [
            (values[i] - (values[i - 1] if i else 0)) / max(1e-9, t[i] - (t[i - 1] if i else 0))
            for i in range(len(values))
        ]
        bottom.plot(t, rates, label=f"{key.replace('_', ' ')} /s")
    bottom.set_ylabel("frames/s")
    bottom.set_xlabel("s since start")
    twin = bottom.twinx()
    twin.plot(t, [row["logged_in"] for row in series], "k--", label="piles logged in")
    twin.set_ylabel("piles")
    bottom.legend(loc="upper left", fontsize="small")
    twin.legend(loc="upper right", fontsize="small")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    path = out / "load.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def kinds_table(data: dict[str, Any]) -> Table:
    """The final latency table (backend and pile-seen, ms)."""
    table = Table(title="reply latency (ms): backend at the socket | as the pile sees it")
    for col in ("type", "count", "p50", "p95", "p99", "max", "pile p50", "pile p99"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for kind, row in data["latency_ms"].items():
        b, p = row["backend"], row["pile"]
        if not b["count"] and not p["count"]:
            continue
        table.add_row(
            kind, str(b["count"]), f"{b['p50']:.1f}", f"{b['p95']:.1f}", f"{b['p99']:.1f}",
            f"{b['max']:.1f}", f"{p['p50']:.1f}", f"{p['p99']:.1f}",
        )  # fmt: skip
    return table
