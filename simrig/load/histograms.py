"""Latency histograms (HdrHistogram): microseconds from 1 µs to 10 min, 3 significant digits.

One place makes them, reads their percentiles and carries them between processes
(``--workers``: each worker's histograms are encoded, the parent adds them up).
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

__all__ = [
    "PERCENTILES",
    "encode",
    "merge_into",
    "new_histogram",
    "new_interval_histogram",
    "record_s",
    "summary_ms",
]

#: the largest latency a histogram holds (longer ones are counted at this value)
MAX_US = 600_000_000
PERCENTILES = (50.0, 95.0, 99.0)
INTERVAL_MAX_US = 60_000_000


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


def new_interval_histogram() -> HdrHistogram:
    """One tick's histogram (the time series): 2 significant digits up to 60 s, small
    enough to encode and reset every second without stalling the piles (~0.2 ms)."""
    return HdrHistogram(1, INTERVAL_MAX_US, 2)


def record_s(histogram: HdrHistogram, seconds: float) -> None:
    """Record a duration in seconds (negative ones, from float round trips, as 1 µs;
    longer than the histogram holds, at its highest value)."""
    top = histogram.highest_trackable_value
    histogram.record_value(min(top, max(1, round(seconds * 1e6))))


def summary_ms(histogram: HdrHistogram) -> dict[str, float | int]:
    """count, p50, p95, p99 and max in milliseconds (0 when empty)."""
    count = histogram.get_total_count()
    out: dict[str, float | int] = {"count": count}
    for p in PERCENTILES:
        value = histogram.get_value_at_percentile(p) if count else 0
        out[f"p{p:g}"] = round(value / 1000, 3)
    out["max"] = round((histogram.get_max_value() if count else 0) / 1000, 3)
    return out


def encode(histogram: HdrHistogram) -> str:
    """The compressed, base64 form (to send to another process)."""
    return histogram.encode().decode("ascii")


def merge_into(histogram: HdrHistogram, encoded: str) -> None:
    """Add an :func:`encode`-d histogram into ``histogram``."""
    histogram.decode_and_add(encoded.encode("ascii"))
