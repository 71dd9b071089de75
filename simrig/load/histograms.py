"""Latency histograms (HdrHistogram): microseconds from 1 µs to 10 min, 3 significant digits.

One place makes them, reads their percentiles and carries them between processes
(``--workers``: each worker's histograms are encoded, the parent adds them up).
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

__all__ = ["PERCENTILES", "encode", "merge_into", "new_histogram", "record_s", "summary_ms"]

#: the largest latency a histogram holds (longer ones are counted at this value)
MAX_US = 600_000_000
PERCENTILES = (50.0, 95.0, 99.0)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


def record_s(histogram: HdrHistogram, seconds: float) -> None:
    """Record a duration in seconds (negative ones, from float round trips, as 1 µs)."""
    histogram.record_value(min(MAX_US, max(1, round(seconds * 1e6))))


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
