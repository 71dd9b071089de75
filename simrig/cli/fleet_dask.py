"""The fleet's shards on a Dask distributed cluster (``simrig compare --scheduler``).

Past one machine the shards go through Dask (issue 14 item 5), not home-made
networking: one task per :class:`~simrig.cli.fleet.ShardJob`, each running
:func:`~simrig.cli.fleet.run_shard` on a worker; the results are merged in shard order
by :func:`~simrig.cli.fleet.run_fleet`, so they are the same, byte for byte, as with
``--jobs 1``. Dask is an optional extra (``pip install 'simrig[dask]'``): this module
imports it only when a cluster is used.

A worker must run the very code of this rig: its simrig version *and* a digest of
simrig's files (a development tree keeps one version number while its code changes) are
checked on every worker before any work, and again by each task. Profile files
(``--profile x.toml``, ``--profile-dir``) travel as text: a remote worker has no path.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .fleet import ShardJob, run_shard

if TYPE_CHECKING:
    from types import FrameType

    from simrig.sim.results import RunResult

__all__ = [
    "INSTALL_HINT",
    "ClusterShard",
    "ClusterUnavailable",
    "CodeMismatch",
    "SchedulerAddress",
    "code_version",
    "parse_scheduler",
    "require_dask",
    "run_cluster_shard",
    "run_on_cluster",
]

INSTALL_HINT = "pip install 'simrig[dask]'"
#: seconds to reach the scheduler and to wait for its first worker
CONNECT_TIMEOUT_S = 10.0
#: most worker processes of ``local:N``
MAX_LOCAL_WORKERS = 64

_TCP = re.compile(r"tcp://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>[0-9]{1,5})")
_LOCAL = re.compile(r"local:(?P<n>[0-9]{1,3})")


class ClusterUnavailable(Exception):
    """The cluster cannot run the shards (unreachable, no worker, other code): exit 3."""


class CodeMismatch(RuntimeError):
    """A task landed on a worker whose simrig is not this rig's."""


@dataclass(frozen=True, slots=True)
class SchedulerAddress:
    """``tcp://HOST:PORT`` of a running scheduler, or ``local:N`` (``local`` workers:
    a cluster of N worker processes on 127.0.0.1, started and stopped by the run)."""

    text: str
    host: str = ""
    port: int = 0
    local: int = 0


def parse_scheduler(text: str) -> SchedulerAddress:
    """``--scheduler``: ValueError (one line) unless ``tcp://HOST:PORT`` or ``local:N``."""
    expected = (
        f"--scheduler {text}: expected tcp://HOST:PORT (a Dask scheduler) or local:N "
        f"(N worker processes on this machine, 1-{MAX_LOCAL_WORKERS})"
    )
    if tcp := _TCP.fullmatch(text):
        port = int(tcp["port"])
        if not 1 <= port <= 65535:
            raise ValueError(f"--scheduler {text}: port {port} is not in 1-65535")
        return SchedulerAddress(text, host=tcp["host"].strip("[]"), port=port)
    if (local := _LOCAL.fullmatch(text)) and 1 <= int(local["n"]) <= MAX_LOCAL_WORKERS:
        return SchedulerAddress(text, local=int(local["n"]))
    raise ValueError(expected)


def require_dask(option: str = "--scheduler") -> None:
    """ValueError (one line) naming the install command if Dask is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ValueError(f"{option} needs Dask distributed: {INSTALL_HINT}") from None


@functools.cache
def code_version() -> str:
    """simrig's version and a digest of its package files (code and profiles)."""
    import simrig

    root = Path(simrig.__file__).parent
    digest = hashlib.sha256()
    files = (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return f"{simrig.__version__} (code {digest.hexdigest()[:12]})"


@dataclass(frozen=True, slots=True)
class ClusterShard:
    """One shard as a cluster task: the job (profile as given, no directories) with the
    text of its profile file and of every ``--profile-dir`` file, and the rig's code."""

    job: ShardJob
    #: ``(file name, text)`` of a ``--profile x.toml`` (None: a profile name)
    profile_file: tuple[str, str] | None
    #: per ``--profile-dir``, in order, its ``(file name, text)`` of each ``*.toml``
    dir_files: tuple[tuple[tuple[str, str], ...], ...]
    code: str


def run_cluster_shard(task: ClusterShard) -> RunResult:
    """On a worker: the shard, its profile files written to a private folder."""
    if (mine := code_version()) != task.code:
        raise CodeMismatch(
            f"a worker runs simrig {mine}, this rig {task.code}: install the same simrig "
            "on every worker"
        )
    if task.profile_file is None and not task.dir_files:
        return run_shard(task.job)
    with tempfile.TemporaryDirectory(prefix="simrig-shard-") as tmp:
        dirs = []
        for k, files in enumerate(task.dir_files):
            folder = Path(tmp, f"dir{k}")
            folder.mkdir()
            for name, text in files:
                (folder / name).write_text(text, encoding="utf-8")
            dirs.append(folder)
        profile = task.job.profile
        if task.profile_file is not None:
            name, text = task.profile_file
            path = Path(tmp, "file", name)
            path.parent.mkdir()
            path.write_text(text, encoding="utf-8")
            profile = str(path)
        result = run_shard(replace(task.job, profile=profile, profile_dirs=tuple(dirs)))
    return replace(result, scenario_name=result.scenario_name.replace(profile, task.job.profile))


def cluster_shards(todo: Sequence[ShardJob]) -> list[ClusterShard]:
    """The jobs as tasks, each profile file read once (the text the rig validated)."""
    from simrig.firmware_models.profile import read_profile_text

    texts: dict[str, str] = {}
    dir_files: dict[tuple[Path, ...], tuple[tuple[tuple[str, str], ...], ...]] = {}
    tasks = []
    for job in todo:
        file = None
        if job.profile.endswith(".toml"):
            if job.profile not in texts:
                texts[job.profile] = read_profile_text(Path(job.profile))
            file = (Path(job.profile).name, texts[job.profile])
        if job.profile_dirs not in dir_files:
            dir_files[job.profile_dirs] = tuple(
                tuple((p.name, read_profile_text(p)) for p in sorted(d.glob("*.toml")))
                for d in map(Path, job.profile_dirs)
            )
        tasks.append(
            ClusterShard(
                replace(job, profile_dirs=()), file, dir_files[job.profile_dirs], code_version()
            )
        )
    return tasks


@contextmanager
def connect(address: SchedulerAddress) -> Iterator[Any]:
    """A ``distributed.Client`` of ``address`` whose every worker runs this rig's code;
    ClusterUnavailable (one line) otherwise. Closed (and ``local:N`` stopped) on exit."""
    from distributed import Client

    with _quiet_dask_log(), ExitStack() as stack:
        if address.local:
            target: Any = stack.enter_context(_local_cluster(address.local))
        else:
            _probe(address)
            target = address.text
        try:
            client = Client(target, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            raise ClusterUnavailable(f"--scheduler {address.text}: {exc}") from None
        try:
            _check_workers(client, address)
            yield client
        finally:
            client.close()


@contextmanager
def _local_cluster(workers: int) -> Iterator[Any]:
    """``local:N``: N worker processes forked by a fork server that was started with
    Ctrl-C ignored, so they inherit ignoring it (a terminal's Ctrl-C reaches the whole
    process group and a worker would print a traceback; the rig stops them), restarted
    ones too: the setting holds while the cluster lives. Only the instant of launching
    the fork server ignores Ctrl-C in the rig itself; Ctrl-C or SIGTERM while the
    workers start is acted on once the cluster can close in order."""
    import dask
    from distributed import LocalCluster
    from distributed.utils import get_mp_context

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context()  # Dask's fork-server preload (its own modules), set once
        _start_fork_server_ignoring_ctrl_c()
        with _signals_deferred() as caught:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=50,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            )  # fmt: skip
        try:
            if caught:
                signal.raise_signal(caught[0])
            yield cluster
        finally:
            cluster.close()


def _start_fork_server_ignoring_ctrl_c() -> None:
    """Launch this process's multiprocessing fork server with SIGINT ignored: a Python
    started so keeps it ignored, and so do the processes it forks. (One already running
    keeps what it had.)"""
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM while the ``local:N`` cluster starts are noted in the list
    yielded, for the caller to act on once it is up and can close in order (as
    ``--jobs``'s pool): acted on at once, they would leave half-started workers."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _quiet_dask_log() -> Iterator[None]:
    """Dask's own log lines (reconnecting, closing) stay off the terminal: what went
    wrong is told in one line (:class:`ClusterUnavailable`)."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "distributed"]
    loggers = [logging.getLogger(name) for name in ["distributed", *names]]
    levels = [logger.level for logger in loggers]  # Dask sets some children's own
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _probe(address: SchedulerAddress) -> None:
    """A refused connection is told at once (Dask would retry until its timeout)."""
    try:
        with socket.create_connection((address.host, address.port), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterUnavailable(
            f"--scheduler {address.text}: no Dask scheduler reachable ({reason})"
        ) from None


def _check_workers(client: Any, address: SchedulerAddress) -> None:
    where = f"--scheduler {address.text}"
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ClusterUnavailable(
            f"{where}: the scheduler has no worker after {CONNECT_TIMEOUT_S:g} s"
        ) from None
    mine = code_version()
    try:
        theirs = client.run(code_version)
    except Exception as exc:  # the worker could not even load simrig's code
        raise ClusterUnavailable(
            f"{where}: a worker cannot run simrig ({type(exc).__name__}: {exc}); "
            f"install this simrig ({mine}) on every worker"
        ) from None
    for worker, version in sorted(theirs.items()):
        if version != mine:
            raise ClusterUnavailable(
                f"{where}: worker {worker} runs simrig {version}, this rig {mine}: "
                "install the same simrig on every worker"
            )


def run_on_cluster(
    address: SchedulerAddress,
    todo: Sequence[ShardJob],
    done: dict[tuple[int, int], RunResult],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Every job as one task; ``done[arm, shard]`` filled as each ends. Leaving early
    (Ctrl-C, SIGTERM, an error) cancels the tasks not done and closes the client."""
    from distributed import KilledWorker, as_completed
    from distributed.client import FutureCancelledError

    tasks = cluster_shards(todo)
    with connect(address) as client:
        futures = client.map(run_cluster_shard, tasks, pure=False)
        position = {future.key: k for k, future in enumerate(futures)}
        try:
            for count, future in enumerate(as_completed(futures), start=1):
                try:
                    result = future.result()
                except CodeMismatch as exc:
                    raise ClusterUnavailable(f"--scheduler {address.text}: {exc}") from None
                except (FutureCancelledError, KilledWorker, OSError) as exc:
                    # OSError: Dask's CommClosedError, when the scheduler's connection
                    # closes before the lost tasks are cancelled (which comes first is a race)
                    why = " ".join(str(exc).split()) or type(exc).__name__
                    raise ClusterUnavailable(
                        f"--scheduler {address.text}: a shard was lost ({why})"
                    ) from None
                job = todo[position[future.key]]
                done[job.arm, job.shard] = result
                if progress:
                    progress(count, len(todo))
        finally:
            with suppress(OSError):  # a lost scheduler: nothing left to cancel
                client.cancel([f for f in futures if not f.done()])
