"""A test's view of the processes a command starts, read from ``/proc`` (Linux)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

__all__ = ["alive", "children", "cmdline", "descendants", "ignores_sigint", "outlived"]


def children(pid: int) -> set[int]:
    """The direct children of ``pid`` (none once it has gone)."""
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found |= {int(t) for t in (task / "children").read_text().split()}
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def descendants(pid: int) -> set[int]:
    """Children, grandchildren, ... of ``pid``."""
    found: set[int] = set()
    for child in children(pid):
        found |= {child} | descendants(child)
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def alive(pid: int) -> bool:
    """Running (a zombie is dead too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def ignores_sigint(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) & (1 << (signal.SIGINT - 1)))


def outlived(pids: set[int], grace_s: float = 10.0) -> list[int]:
    """The processes of ``pids`` still alive ``grace_s`` after the command returned: a
    child seen between fork and exec, the resource tracker or a cluster's worker ends on
    its own shortly after its parent (CI saw such), but none may be left behind."""
    deadline = time.monotonic() + grace_s
    while (found := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found
