"""Replay: re-drive a backend with a capture's pile side, diff its replies (issue 12 item 3).

Pure (no I/O, no clock): :mod:`.plan` (a capture → per-pile scripts of frames with the
replies each waited for), :mod:`.rewrite` (what must be fresh at send time: sequence
numbers, CP56Time2a times, transaction serials, pile numbers), :mod:`.diff` (the
recorded replies against the fresh ones, and the frames-only verdicts of both).
The sockets live in :mod:`simrig.adapters.replay_client`; the command in
:mod:`simrig.cli.replay`.
"""

from simrig.replay.diff import Difference, ReplayDiff, diff_replay
from simrig.replay.plan import PileScript, ReplayInputError, ReplayPlan, Step, build_plan
from simrig.replay.rewrite import Rewriter

__all__ = [
    "Difference",
    "PileScript",
    "ReplayDiff",
    "ReplayInputError",
    "ReplayPlan",
    "Rewriter",
    "Step",
    "build_plan",
    "diff_replay",
]
