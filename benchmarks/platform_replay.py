"""The embedded platform's own share of a fleet shard, measured without the rest of the rig.

Runs one shard (as benchmarks/fleet_shard.py) once while recording every call the virtual
driver and the world make on its :class:`~simrig.platform.PlatformCore` (and on
``core.speed``), with the repository as it was before the first call. Then replays the
calls into fresh cores, ``--repeat`` times, and prints the CPU time of each replay, the
time spent in :meth:`Inbox._on_frame` (everything the platform does with a decoded frame)
and a digest of what the platform decided (its events, sessions, notifications, bills).

The pile, the plant and the link do not run during a replay, so the figure moves only
with platform code; CPU time rather than wall time, as the machine is shared. To compare
two versions on the same calls, record once and replay the file with each:

    python benchmarks/platform_replay.py --save /tmp/calls.pkl
    python benchmarks/platform_replay.py --load /tmp/calls.pkl --repeat 5
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import inspect
import pickle
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simrig.cli.fleet import ShardJob, plan_fleet, run_shard
from simrig.platform import MemoryRepository, PlatformCore, PlatformRules
from simrig.platform.routing import Inbox
from simrig.platform.speed import PlatformSpeed
from simrig.scenarios.workload import WorkloadSpec

#: (target: "core" or "speed", method name, args, kwargs)
Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]


@dataclass
class Recording:
    """A platform's starting state and every call made on it, in order."""

    repo: MemoryRepository | None = None
    rules: PlatformRules | None = None
    epoch: datetime | None = None
    calls: list[Call] = field(default_factory=list)


def _public_methods(cls: type) -> list[str]:
    return [n for n, v in vars(cls).items() if not n.startswith("_") and callable(v)]


@contextmanager
def _recording_into(rec: Recording) -> Iterator[None]:
    """Patch the core's and the speed seam's public methods to log their calls."""
    saved: list[tuple[type, str, Any]] = []
    init = PlatformCore.__init__

    def recording_init(core: PlatformCore, *args: Any, **kwargs: Any) -> None:
        given = inspect.signature(init).bind(core, *args, **kwargs)
        given.apply_defaults()
        rec.repo = copy.deepcopy(given.arguments["repo"])
        rec.rules, rec.epoch = given.arguments["rules"], given.arguments["epoch"]
        init(core, *args, **kwargs)

    def logged(cls: type, target: str, name: str) -> Callable[..., Any]:
        method = vars(cls)[name]

        def call(obj: Any, *args: Any, **kwargs: Any) -> Any:
            rec.calls.append((target, name, args, kwargs))
            return method(obj, *args, **kwargs)

        return call

    saved.append((PlatformCore, "__init__", init))
    PlatformCore.__init__ = recording_init  # type: ignore[method-assign]
    for cls, target in ((PlatformCore, "core"), (PlatformSpeed, "speed")):
        for name in _public_methods(cls):
            saved.append((cls, name, vars(cls)[name]))
            setattr(cls, name, logged(cls, target, name))
    try:
        yield
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


def record(profile: str, shard: int, sessions: int) -> Recording:
    """Run one fleet shard and record its platform calls."""
    plan = plan_fleet(WorkloadSpec(profile="", days=30, seed=1), sessions)
    rec = Recording()
    with _recording_into(rec):
        run_shard(ShardJob(plan, profile, 0, shard, None, ()))
    return rec


@contextmanager
def _timing_frames(total: list[float]) -> Iterator[None]:
    """Add the time spent in ``Inbox._on_frame`` to ``total[0]``."""
    on_frame = Inbox._on_frame
    clock = time.perf_counter

    def timed(inbox: Inbox, *args: Any) -> None:
        started = clock()
        try:
            on_frame(inbox, *args)
        finally:
            total[0] += clock() - started

    Inbox._on_frame = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Inbox._on_frame = on_frame  # type: ignore[method-assign]


def replay(rec: Recording) -> tuple[float, float, str]:
    """CPU seconds of one replay, seconds in ``_on_frame``, digest of the decisions."""
    assert rec.repo is not None and rec.epoch is not None
    repo = copy.deepcopy(rec.repo)
    core = PlatformCore(repo, rules=rec.rules, epoch=rec.epoch)
    targets = {"core": core, "speed": core.speed}
    events = []
    in_frames = [0.0]
    with _timing_frames(in_frames):
        started = time.process_time()
        for target, name, args, kwargs in rec.calls:
            result = getattr(targets[target], name)(*args, **kwargs)
            if name == "events":
                events.extend(result)
            elif name == "next_event" and result is not None:
                events.append(result)
        cpu = time.process_time() - started
    h = hashlib.sha256()
    for e in events:
        h.update(repr((e.t, e.kind, e.source, e.gun, e.data)).encode())
    for record_list in (repo.list_sessions(), repo.list_notifications(), repo.list_bills()):
        for item in record_list:
            h.update(repr(item).encode())
    return cpu, in_frames[0], h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sinexcel-dc@2090104")
    parser.add_argument("--shard", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", help="write the recording here (pickle) and stop")
    parser.add_argument("--load", help="replay this recording instead of recording one")
    args = parser.parse_args()
    if args.load:
        with open(args.load, "rb") as f:
            rec = pickle.load(f)
    else:
        rec = record(args.profile, args.shard, args.sessions)
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump(rec, f)
        print(f"{len(rec.calls)} calls saved to {args.save}")
        return
    cpus, frames, digest = [], [], ""
    for _ in range(args.repeat):
        cpu, in_frames, digest = replay(rec)
        cpus.append(cpu)
        frames.append(in_frames)
        print(f"{cpu:.3f} s cpu, {in_frames:.3f} s in _on_frame")
    print(
        f"median {statistics.median(cpus):.3f} s cpu, {statistics.median(frames):.3f} s in "
        f"_on_frame; {len(rec.calls)} calls; digest {digest}"
    )


if __name__ == "__main__":
    main()
