"""Run ``simrig platform serve`` as a child process and learn its ports (loopback only).

One place knows the command and its ready line (``listening on H:P http on H:P|off``):
the ``embedded-tcp`` backend, the durability tests and the load benchmark all start the
reference platform through :func:`start_platform`.
"""

from __future__ import annotations

import glob
import os
import secrets
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import IO

__all__ = ["PlatformProcess", "PlatformStartError", "parse_ready_line", "start_platform"]


class PlatformStartError(RuntimeError):
    """The server process did not print its ready line (one-line reason)."""


@dataclass
class PlatformProcess:
    proc: subprocess.Popen[str]
    port: int
    http_port: int | None
    #: the server's last stderr lines (drained all the time, so the pipe never fills)
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    #: the bearer token of its HTTP API (None: started with ``--no-api-auth``)
    api_token: str | None = None

    @property
    def api_headers(self) -> dict[str, str]:
        """The headers an HTTP client of this server sends."""
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse_ready_line(line: str) -> tuple[int, int | None]:
    """``listening on 127.0.0.1:P http on 127.0.0.1:Q`` → (P, Q); ``http on off`` → (P, None)."""
    parts = line.split()
    if len(parts) < 6 or parts[:2] != ["listening", "on"]:
        raise PlatformStartError(f"unexpected ready line {line.strip()!r}")
    port = int(parts[2].rsplit(":", 1)[1])
    http = None if parts[5] == "off" else int(parts[5].rsplit(":", 1)[1])
    return port, http


def start_platform(
    options: list[str], timeout_s: float = 20.0, *, faketime: str | None = None
) -> PlatformProcess:
    """Start ``simrig platform serve OPTIONS`` (pass ``--listen 127.0.0.1:0`` etc.).

    ``faketime``: run it under libfaketime with this ``FAKETIME`` spec (e.g. ``"+0 x60"``:
    its clocks start now and run 60 times faster) — the way to scale a backend that has no
    speed option of its own. Its monotonic clock is faked too
    (``FAKETIME_DONT_FAKE_MONOTONIC=0``): asyncio's and uvloop's loop clock and poll
    timeouts then follow the faked clock, so its timers run at the same pace as its wall
    clock. The faked monotonic clock is the server's own, not CLOCK_MONOTONIC of the rig.
    """
    cmd = [sys.executable, "-m", "simrig", "platform", "serve", *options]
    token = _api_token(options)
    env = {**os.environ}
    if token is not None:
        env["SIMRIG_API_TOKEN"] = token  # not on the command line: ps shows that
    if faketime is not None:
        env = {
            **env,
            "LD_PRELOAD": libfaketime(),
            "FAKETIME": faketime,
            "FAKETIME_DONT_FAKE_MONOTONIC": "0",
        }
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_die_with_parent if _can_die_with_parent() else None,
    )
    out, err = proc.stdout, proc.stderr
    assert out is not None and err is not None
    tail: deque[str] = deque(maxlen=50)
    _drain(err, tail)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(out.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not lines or not lines[0].startswith("listening on"):
        proc.kill()
        proc.wait()
        reason = [line for line in tail if line.strip()][-1:] or [
            f"no ready line in {timeout_s:g} s"
        ]
        raise PlatformStartError(f"platform server did not start: {reason[0].strip()}")
    _drain(out, deque(maxlen=50))
    port, http_port = parse_ready_line(lines[0])
    return PlatformProcess(proc, port, http_port, tail, token)


def _api_token(options: list[str]) -> str | None:
    """The HTTP API token the server will need: from ``options``, else the environment's
    ``SIMRIG_API_TOKEN``, else a new one; None with ``--no-api-auth``."""
    if "--no-api-auth" in options:
        return None
    for i, option in enumerate(options):
        if option in ("--api-token", "--token") and i + 1 < len(options):
            return options[i + 1]
        if option.startswith(("--api-token=", "--token=")):
            return option.split("=", 1)[1]
    return os.environ.get("SIMRIG_API_TOKEN") or secrets.token_urlsafe(24)


def libfaketime() -> str:
    """The path of libfaketime, preloaded into the server itself.

    Not the ``faketime`` wrapper: it forks, so a SIGTERM or the parent-death signal
    reaches the wrapper and the server it started lives on as an orphan."""
    for pattern in ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                    "/usr/local/lib/faketime/libfaketime.so.1"):  # fmt: skip
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise PlatformStartError(
        "libfaketime not found (Debian: apt-get install faketime; `make setup` does it)"
    )


def _drain(stream: IO[str], into: deque[str]) -> None:
    """Read ``stream`` to its end in a daemon thread, keeping the last lines in ``into``:
    a pipe nobody reads would stall the server once its buffer fills."""

    def pump() -> None:
        for line in stream:
            into.append(line)

    threading.Thread(target=pump, daemon=True).start()


def _can_die_with_parent() -> bool:
    """Linux ends a child when the *thread* that forked it exits: only the main thread."""
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """The server gets SIGTERM when the rig dies (no orphaned servers after a kill -9)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
