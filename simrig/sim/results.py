"""What one run produces: verdicts, expectation checks, evidence and samples for plots.

Plain data, shared by the runner (which fills it), the reports (tables, PNG timelines,
JSON) and the pytest plugin (pass/fail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simrig.capture import Chunk
from simrig.endpoint import Event
from simrig.fastdata import fast_init
from simrig.oracle.deviations import BackendDeviation
from simrig.oracle.device_view import PaperFrame
from simrig.oracle.diagnostics import Diagnosis
from simrig.oracle.judge import SessionVerdict


@fast_init
@dataclass(frozen=True, slots=True)
class TruthSample:
    """The plant at one instant: true meter reading and power of one gun."""

    t: float
    pile_no: str
    gun: int
    meter_kwh: float
    power_kw: float
    plugged: bool
    charging: bool


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One ``[[expect]]`` of the scenario, checked against a verdict."""

    key: str  # pile:gun:session
    passed: bool
    expected: str
    actual: str


#: ``RunResult.stopped_early`` of a run ended by Ctrl-C or SIGTERM (a partial report)
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM)"


@dataclass
class RunResult:
    scenario_name: str
    case: str
    epoch: datetime
    duration_s: float
    backend: str
    seed: int
    profiles: dict[str, str]  # pile_no -> profile name at the end of the run
    verdicts: list[SessionVerdict]
    expectations: list[ExpectationResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    #: the 0x13 carried decoded instead of as chunks (``Keep.realtime_frames`` off)
    paper_realtime: list[PaperFrame] = field(default_factory=list)
    samples: list[TruthSample] = field(default_factory=list)
    offline: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    wall_s: float = 0.0
    frames: int = 0
    elided_heartbeats: int = 0
    #: real-time runs (issue 11 item 5): ``ok``, ``unreachable``, ``incompatible`` or
    #: ``untested`` (the run ended before any pile logged in, no failure seen)
    backend_status: str = "ok"
    #: one per pile, in scenario order (real-time runs only)
    diagnostics: list[Diagnosis] = field(default_factory=list)
    #: per pile, the backend's replies that break the spec (real-time runs only)
    deviations: dict[str, list[BackendDeviation]] = field(default_factory=dict)
    #: why the run stopped before the scenario's end ("" = it ran to the end)
    stopped_early: str = ""
    #: where the rig itself ran late (real-time runs; :mod:`simrig.sim.lateness`), one
    #: line per late spell
    rig_late: list[str] = field(default_factory=list)

    @property
    def backend_ok(self) -> bool:
        return self.backend_status == "ok"

    @property
    def backend_failed(self) -> bool:
        """The backend was shown unreachable or incompatible (not merely untested)."""
        return self.backend_status in ("unreachable", "incompatible")

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expectations)

    @property
    def anomalous(self) -> list[SessionVerdict]:
        return [v for v in self.verdicts if v.codes or v.false_notifications]

    def wall(self, t: float) -> datetime:
        """Scenario seconds → wall time."""
        return self.epoch + timedelta(seconds=t)

    def seconds(self, at: datetime) -> float:
        return (at - self.epoch).total_seconds()
