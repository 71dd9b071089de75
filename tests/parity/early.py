"""The parity runs start right after collection and go on in worker processes while the
rest of the suite runs: ~25 s of CPU for ~5 minutes of mostly idle real time."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from simrig.scenarios import load_scenario
from simrig.sim.results import RunResult
from simrig.sim.runner import run_scenario

from .harness import TcpOutcome, cut, cut_end, tcp_job, worker_init

#: runs over TCP at a time, each in its own worker process with its own server process
WORKERS = 4


class Runs:
    """Each selected scenario: the uncut and the cut virtual run, and its run over TCP in
    a worker process (started longest first, so the slowest one does not start last)."""

    def __init__(
        self, names: list[str], speeds: dict[str, float], pool: ProcessPoolExecutor
    ) -> None:
        self.uncut: dict[str, RunResult] = {}
        self.virtual: dict[str, RunResult] = {}
        self.tcp: dict[str, Future[TcpOutcome]] = {}
        ends = {}
        for name in names:
            scenario = load_scenario(name)
            self.uncut[name] = run_scenario(scenario)
            ends[name] = cut_end(scenario, self.uncut[name])
            self.virtual[name] = run_scenario(cut(scenario, ends[name]))
        for name in sorted(names, key=lambda n: -ends[n] / speeds[n]):
            self.tcp[name] = pool.submit(tcp_job, name, ends[name], speeds[name])


@dataclass
class EarlyRuns:
    """The session's parity runs and their worker pool (``conftest.py`` starts and stops)."""

    runs: Runs | None = None
    pool: ProcessPoolExecutor | None = None

    def start(self, names: list[str], speeds: dict[str, float]) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked state
        self.pool = ProcessPoolExecutor(WORKERS, mp_context=context, initializer=worker_init)
        self.runs = Runs(names, speeds, self.pool)

    def stop(self) -> None:
        """At the session's end every parity test has its result, or never will (a failed
        collection, Ctrl-C): runs still going are ended (SIGTERM: each worker stops its
        servers, :func:`~tests.parity.harness.worker_init`)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            for child in multiprocessing.active_children():
                child.terminate()
            self.pool = None


EARLY = EarlyRuns()
