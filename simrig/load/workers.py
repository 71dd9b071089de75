"""``--workers K``: K processes, each driving a share of the piles, results added up.

Each worker runs :func:`~simrig.load.runner.run_load` on its part of the plan
(:meth:`~simrig.load.plan.LoadPlan.part`) with the same scenario t=0 (one
CLOCK_MONOTONIC start for all), and sends its ticks and its final figures to the parent
through a queue; the parent merges tick ``i`` of every worker into one live row and the
figures into one result (:func:`~simrig.load.runner.merge`). Ctrl-C or SIGTERM in the
parent asks every worker to end the same orderly way. ``--capture sample``: each worker
writes the sampled piles it drives to its own files (``capture-wK.pcapng``).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from .capture import CaptureSpec
from .plan import LoadPlan
from .runner import LoadFigures, merge, merge_series, run_load

__all__ = ["raise_open_files", "run_workers"]

#: descriptors a process needs besides one socket per pile (files, pipes, the loop)
SPARE_FILES = 256


def raise_open_files(piles: int) -> str:
    """Raise the soft RLIMIT_NOFILE for ``piles`` sockets; a note when the hard limit is
    lower than that (the piles past it fail to connect: counted as connect failures)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = piles + SPARE_FILES
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return ""
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        return (
            f"open files: hard limit {hard} < {needed} needed for {piles} piles in one "
            f"process; raised the soft limit to {target} (use --workers or raise the hard limit)"
        )
    return ""


def _worker(
    plan: LoadPlan,
    index: int,
    count: int,
    backend: str,
    control_spec: str | None,
    start_monotonic: float,
    tick_s: float,
    out: Any,
    capture: CaptureSpec | None = None,
) -> None:  # pragma: no cover - runs in the worker process
    try:
        from simrig.control import load_control

        part = plan.part(index, count)
        note = raise_open_files(part.piles)
        control = load_control(control_spec, backend) if control_spec else None
        figures = run_load(
            part, backend, control=control, start_monotonic=start_monotonic,
            tick_s=tick_s, provision=False, capture=capture, worker=index,
            on_tick=lambda row: out.put(("tick", index, row)),
        )  # fmt: skip
        out.put(("done", index, (asdict(figures), note)))
    except BaseException as exc:  # reported to the parent as one line
        out.put(("error", index, f"worker {index}: {type(exc).__name__}: {exc}"))


def run_workers(
    plan: LoadPlan,
    backend: str,
    workers: int,
    *,
    control_spec: str | None,
    on_tick: Callable[[dict[str, Any]], None] | None,
    tick_s: float = 1.0,
    lead_s: float = 5.0,
    capture: CaptureSpec | None = None,
) -> tuple[LoadFigures, list[str]]:
    """Run ``plan`` in ``workers`` processes; the merged figures and the workers' notes."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.monotonic() + lead_s + plan.piles / 5000  # every worker built by then
    procs = [
        ctx.Process(
            target=_worker,
            args=(plan, i, workers, backend, control_spec, start, tick_s, out, capture),
            daemon=True,
        )
        for i in range(workers)
    ]
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)

    # installed first: a signal while a worker is being spawned must not interrupt the
    # hand-over of its start-up data (the worker would print a traceback)
    previous = [signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)]
    ticks: dict[int, dict[int, dict[str, Any]]] = {}
    counts: dict[int, int] = {}
    done: dict[int, LoadFigures] = {}
    notes: list[str] = []
    errors: list[str] = []
    try:
        for proc in procs:
            proc.start()
        if stopping:
            stop(stopping[0], None)
        while len(done) + len(errors) < workers:
            try:
                kind, index, payload = out.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    errors.append("a worker died without a result")
                    break
                continue
            if kind == "tick":
                n = counts.get(index, 0)
                counts[index] = n + 1
                ticks.setdefault(index, {})[n] = payload
                if on_tick is not None and all(n in ticks.get(i, {}) for i in range(workers)):
                    [row] = merge_series([[ticks[i].pop(n)] for i in range(workers)])
                    on_tick(row)
            elif kind == "done":
                data, note = payload
                done[index] = LoadFigures(**data)
                if note:
                    notes.append(f"worker {index}: {note}")
            else:
                errors.append(payload)
    finally:
        for s, handler in zip((signal.SIGINT, signal.SIGTERM), previous, strict=True):
            signal.signal(s, handler)
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    if errors:
        raise RuntimeError("; ".join(errors))
    return merge([done[i] for i in sorted(done)]), notes
