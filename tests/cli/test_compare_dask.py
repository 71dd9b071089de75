"""``simrig compare --scheduler`` (issue 14 item 5: past one machine, the fleet's shards
go through Dask): a real scheduler and workers, each its own process on 127.0.0.1, and
``simrig compare`` as its own process too; the A/B is the bytes of ``--jobs 1``."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from distributed import Client
from typer.testing import CliRunner

import simrig
from simrig.cli import app
from simrig.cli.fleet import ShardJob, plan_fleet, run_shard
from simrig.cli.fleet_dask import (
    ClusterUnavailable,
    CodeMismatch,
    cluster_shards,
    parse_scheduler,
    run_cluster_shard,
    run_on_cluster,
)
from simrig.cli.workload import workload_spec
from simrig.exit_codes import ExitCode
from simrig.scenarios.workload import WorkloadSpec

from ..firmware_models.test_primitives import _doc_profiles
from ..process_tree import children, cmdline, descendants, ignores_sigint, outlived

runner = CliRunner()
#: two shards per profile: 1 session per pile-day over 1 day, 20 sessions: 32 piles
TWO_SHARDS = ["--sessions", "20", "--days", "1", "--sessions-per-pile-day", "1", "--seed", "5"]
#: 25 shards per profile of about 12 sessions each (1 session per pile-day, over a day)
MANY_SHARDS = ["--sessions", "300", "--days", "1", "--sessions-per-pile-day", "1"]
#: the most a process of the test may take to start, or to stop once told
START_S, STOP_S = 60.0, 15.0


class Cluster:
    """A Dask scheduler and its workers, each started as its own process; every one
    is stopped by :meth:`stop` (the fixture calls it, pass or fail)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        file = folder / "scheduler.json"
        self._start(
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_S
            while not _address(file) and time.monotonic() < deadline:
                self._check_running()
                time.sleep(0.1)
            self.address = _address(file)
            self.client = Client(self.address, timeout=START_S)
        except BaseException:
            _stop(self.processes)
            raise

    def add_workers(
        self, count: int, env: dict[str, str] | None = None
    ) -> list[subprocess.Popen[bytes]]:
        """``count`` more worker processes of one thread; returned once the scheduler
        has them."""
        want = self.workers() + count
        worker = ["worker", self.address, "--nthreads", "1", "--no-dashboard"]
        added = [self._start(*worker, "--host", "127.0.0.1", env=env) for _ in range(count)]
        self.client.wait_for_workers(want, timeout=START_S)
        return added

    def remove_workers(self, workers: list[subprocess.Popen[bytes]]) -> None:
        """Stop ``workers``; returns once the scheduler has let them go."""
        want = self.workers() - len(workers)
        _stop(workers)
        self.processes = [p for p in self.processes if p not in workers]
        deadline = time.monotonic() + STOP_S
        while self.workers() > want and time.monotonic() < deadline:
            time.sleep(0.1)

    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def computed_shards(self) -> int:
        """How many shard tasks the cluster has computed so far."""

        def count(dask_scheduler: object) -> int:
            prefix = dask_scheduler.task_prefixes.get("run_cluster_shard")  # type: ignore[attr-defined]
            return 0 if prefix is None else int(prefix.state_counts["memory"])

        return int(self.client.run_on_scheduler(count))

    def tasks_held(self) -> int:
        """Tasks the scheduler still holds (the test's own client holds none)."""
        return int(self.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))

    def stop(self) -> None:
        """The workers, then the client and the scheduler (a worker stopped with its
        scheduler waits for it in vain)."""
        _stop(self.processes[1:])
        self.client.close()
        _stop(self.processes[:1])

    def _start(
        self, role: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{role}{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", f"distributed.cli.dask_{role}", *args],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.folder,
        )  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def _check_running(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                logs = "".join(p.read_text() for p in self.folder.glob("*.log"))
                raise AssertionError(f"a Dask process ended ({process.args}):\n{logs}")


def _address(scheduler_file: Path) -> str:
    """The address in the scheduler's file ("" until it is written whole)."""
    try:
        return str(json.loads(scheduler_file.read_text())["address"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return ""


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two workers, shared by the tests of this module."""
    started = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        started.add_workers(2)
        yield started
    finally:
        started.stop()


def _compare_process(*options: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simrig", "compare", *options],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_scheduler_gives_the_bytes_of_jobs_1_with_profile_files(
    tmp_path: Path, cluster: Cluster
) -> None:
    """A profile file and a profile from --profile-dir reach remote workers as text."""
    dask = cluster
    late = tmp_path / "acme-late.toml"
    late.write_text(_doc_profiles()[0])
    folder = tmp_path / "profiles"
    folder.mkdir()
    other = _doc_profiles()[0].replace('version = "late1"', 'version = "late2"')
    (folder / "late2.toml").write_text(other.replace("never = 0.01", "never = 0.2"))
    profiles = ["--profile", "acme-dc@late2", "--profile-dir", str(folder), "--profile", str(late)]
    one = runner.invoke(app, ["compare", *profiles, *TWO_SHARDS, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    shards_before = dask.computed_shards()
    remote = _compare_process(
        *profiles, *TWO_SHARDS, "--scheduler", dask.address, "--out", str(tmp_path / "dask")
    )
    assert remote.returncode == 0, remote.stderr
    assert dask.computed_shards() - shards_before == 4  # 2 profiles x 2 shards, on the cluster
    for name in ("summary.txt", "ab.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    timed = re.compile(rb'"wall_s": [0-9.e-]+')  # a measurement: the only difference
    one_json, dask_json = ((tmp_path / d / "results.json").read_bytes() for d in ("one", "dask"))
    assert timed.sub(b"", one_json) == timed.sub(b"", dask_json)
    document = json.loads((tmp_path / "dask" / "ab.json").read_text())
    assert [p["profile"] for p in document["profiles"]] == ["acme-dc@late2", "acme-dc@late1"]
    assert "Traceback" not in remote.stderr


def test_scheduler_local_starts_its_own_workers_and_stops_them(tmp_path: Path) -> None:
    """``local:N``: N worker processes on this machine for the run, gone after it."""
    small = ["--profile", "generic-dc@1.0", "--sessions", "8", "--days", "1", "--seed", "3"]
    with (tmp_path / "stderr.txt").open("w") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simrig", "compare", *small, "--scheduler", "local:1",
             "--out", str(tmp_path / "local")],
            stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= descendants(proc.pid)
            time.sleep(0.1)
        proc.wait(STOP_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 0, stderr
    assert seen, "no worker process was started"
    assert not outlived(seen), "a worker outlived the compare by 10 s"
    document = json.loads((tmp_path / "local" / "ab.json").read_text())
    assert document["partial"] is False and document["profiles"][0]["sessions"] == 8
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr


def _ctrl_c_a_local_compare(
    tmp_path: Path, ready: Callable[[int, set[int]], bool], what: str
) -> tuple[int, str, set[int]]:
    """Start ``compare --scheduler local:1``, wait until ``ready(pid, seen)`` (``seen``:
    the processes it started so far), press Ctrl-C as a terminal does; its exit code,
    stderr and every process seen."""
    with (tmp_path / "stderr.txt").open("w") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "simrig", "compare", "--profile", "generic-dc@1.0",
             *MANY_SHARDS, "--scheduler", "local:1", "--out", str(tmp_path / "out")],
            stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
        )  # fmt: skip
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= descendants(proc.pid)
            if ready(proc.pid, seen):
                break
            time.sleep(0.01)
        assert proc.poll() is None and ready(proc.pid, seen), what
        os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as a terminal does
        proc.wait(START_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, (tmp_path / "stderr.txt").read_text(), seen


def test_ctrl_c_to_the_process_group_of_a_local_cluster_leaves_no_traceback(
    tmp_path: Path,
) -> None:
    """A terminal's Ctrl-C reaches the workers too: they ignore it, the rig stops them,
    writes the partial A/B and exits 4."""
    code, stderr, seen = _ctrl_c_a_local_compare(tmp_path, _cluster_up, "the cluster never started")
    assert code == ExitCode.INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not outlived(seen), "a worker outlived the compare by 10 s"
    assert (tmp_path / "out" / "summary.txt").read_text().startswith("PARTIAL REPORT")


def _cluster_up(pid: int, seen: set[int]) -> bool:
    """The rig acts on Ctrl-C and a worker process ignores it: the cluster is up."""
    return not ignores_sigint(pid) and any(ignores_sigint(w) for w in _workers(seen))


def _starting(pid: int, seen: set[int]) -> bool:
    """The fork server is there and the rig acts on Ctrl-C again (it ignores it only
    while it launches the fork server): the workers are starting."""
    return any(_is_fork_server(p) for p in seen) and not ignores_sigint(pid)


def _workers(seen: set[int]) -> set[int]:
    """The processes the fork server of ``local:N`` forked (the workers)."""
    return {w for p in seen if _is_fork_server(p) for w in children(p)}


def _is_fork_server(pid: int) -> bool:
    return b"multiprocessing.forkserver" in cmdline(pid)


def test_ctrl_c_while_a_local_cluster_starts_stops_the_compare_once_it_is_up(
    tmp_path: Path,
) -> None:
    """Ctrl-C to the process group while the workers start (its fork server is there, no
    worker yet) is acted on once the cluster is up: interrupted, exit 4, nothing left."""
    workers_before: set[int] = set()

    def starting(pid: int, seen: set[int]) -> bool:
        workers_before.update(_workers(seen))
        return _starting(pid, seen)

    code, stderr, seen = _ctrl_c_a_local_compare(tmp_path, starting, "no fork server started")
    assert not workers_before, "the workers were up before the test could interrupt"
    assert code == ExitCode.INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not outlived(seen), "a process outlived the compare by 10 s"


def test_sigterm_cancels_the_clusters_shards_and_writes_a_partial_ab(
    tmp_path: Path, cluster: Cluster
) -> None:
    dask = cluster
    shards_before = dask.computed_shards()
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simrig", "compare", "--profile", "sinexcel-dc@2090104",
         "--profile", "sinexcel-dc@2090404", *MANY_SHARDS, "--scheduler", dask.address,
         "--out", str(out), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (
            dask.computed_shards() - shards_before < 2
            and time.monotonic() < deadline
            and proc.poll() is None
        ):
            time.sleep(0.2)
        assert dask.computed_shards() - shards_before >= 2, "no shard computed on the cluster"
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr, stderr
    document = json.loads(stdout)
    spec = workload_spec(
        piles=16, days=1, seed=1, sessions_per_pile_day=1, app_share=0.6, first_pile_no=None,
        epoch=None,
    )  # fmt: skip
    shards = len(plan_fleet(spec, 300).shards())
    assert document["partial"] is True and f"of {shards} shards" in document["partial_holds"]
    assert (out / "summary.txt").read_text().startswith("PARTIAL REPORT")
    deadline = time.monotonic() + 20
    while dask.tasks_held() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert dask.tasks_held() == 0  # the shards not done were cancelled
    assert dask.computed_shards() - shards_before < 2 * shards


def test_a_worker_with_other_simrig_code_is_refused_in_one_line(
    tmp_path: Path, cluster: Cluster
) -> None:
    """A third worker importing another copy of simrig (same version number, one file
    changed): exit 3 before any shard is run."""
    dask = cluster
    shards_before = dask.computed_shards()
    copy = tmp_path / "other" / "simrig"
    shutil.copytree(
        Path(simrig.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    with (copy / "cli" / "fleet.py").open("a") as changed:
        changed.write("\n# another build\n")
    other = dask.add_workers(1, env={**os.environ, "PYTHONPATH": str(copy.parent)})
    try:
        result = _compare_process(
            "--profile", "generic-dc@1.0", *TWO_SHARDS, "--scheduler", dask.address,
            "--out", str(tmp_path / "out"),
        )  # fmt: skip
        computed = dask.computed_shards() - shards_before
    finally:
        dask.remove_workers(other)
    assert result.returncode == ExitCode.BACKEND_UNAVAILABLE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"runs simrig {simrig.__version__} (code " in lines[0]
    assert "install the same simrig on every worker" in lines[0]
    assert computed == 0
    assert not (tmp_path / "out" / "summary.txt").exists()


def test_a_scheduler_lost_mid_run_is_one_line_exit_3_and_a_partial_ab(tmp_path: Path) -> None:
    """The shards finished before the scheduler died are kept as a partial A/B that says
    why it is partial."""
    dask = Cluster(tmp_path)
    out = tmp_path / "out"
    try:
        dask.add_workers(1)
        proc = subprocess.Popen(
            [sys.executable, "-m", "simrig", "compare", "--profile", "generic-dc@1.0",
             *MANY_SHARDS, "--scheduler", dask.address, "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while dask.computed_shards() < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # the rig has read the finished shards (ms after)
            dask.processes[0].kill()  # the scheduler, at once
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        dask.stop()
    assert proc.returncode == ExitCode.BACKEND_UNAVAILABLE, stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"error: --scheduler {dask.address}: a shard was lost (")
    summary = (out / "summary.txt").read_text()
    assert summary.startswith("PARTIAL REPORT: the compare was cut short (the Dask cluster"), (
        summary
    )
    document = json.loads((out / "ab.json").read_text())
    assert document["partial"] is True and "Dask cluster was lost" in document["partial_cause"]
    assert document["profiles"][0]["sessions"] > 0


def test_a_connection_closed_while_gathering_a_shard_is_the_cluster_lost(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the scheduler dies, Dask may tell it as a closed stream while gathering a
    result (CommClosedError, an OSError) rather than as a cancelled future: which comes
    first is a race, and both are the cluster lost (exit 3), never bad input (exit 2)."""
    from distributed import Future
    from distributed.comm.core import CommClosedError

    def closed(self: Future, timeout: float | None = None) -> object:
        raise CommClosedError("in <TCP (closed) ConnectionPool.gather>: Stream is closed")

    monkeypatch.setattr(Future, "result", closed)
    done: dict[tuple[int, int], object] = {}
    with pytest.raises(ClusterUnavailable) as lost:
        run_on_cluster(
            parse_scheduler(cluster.address), [_one_shard_job("generic-dc@1.0")], done, None
        )  # type: ignore[arg-type]
    assert str(lost.value) == (
        f"--scheduler {cluster.address}: a shard was lost "
        "(in <TCP (closed) ConnectionPool.gather>: Stream is closed)"
    )
    assert done == {}


def _one_shard_job(profile: str, profile_dirs: tuple[Path, ...] = ()) -> ShardJob:
    spec = WorkloadSpec(profile="", piles=2, days=1, seed=2, sessions_per_pile_day=2)
    return ShardJob(plan_fleet(spec, None), profile, 0, 0, None, profile_dirs)


def test_a_shard_task_runs_on_the_profile_text_not_the_path(tmp_path: Path) -> None:
    """What a remote worker gets: the text; the rig's own file is gone by then."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "late2.toml").write_text(_doc_profiles()[0].replace("late1", "late2"))
    late = tmp_path / "late.toml"
    late.write_text(_doc_profiles()[0])
    jobs = [_one_shard_job(str(late)), _one_shard_job("acme-dc@late2", (folder,))]
    here = [run_shard(job) for job in jobs]
    tasks = cluster_shards(jobs)
    shutil.rmtree(folder)
    late.unlink()
    there = [run_cluster_shard(task) for task in tasks]
    for mine, theirs in zip(here, there, strict=True):
        assert theirs.scenario_name == mine.scenario_name
        assert theirs.verdicts == mine.verdicts and theirs.profiles == mine.profiles
    assert {name for r in there for name in r.profiles.values()} == {
        "acme-dc@late1",
        "acme-dc@late2",
    }
    assert sum(len(r.verdicts) for r in there) > 0


def test_a_shard_task_refuses_a_worker_with_other_code() -> None:
    """The check each task makes (a worker that joined after the first check)."""
    (task,) = cluster_shards([_one_shard_job("generic-dc@1.0")])
    with pytest.raises(CodeMismatch, match=r"this rig 0\.0 \(code 000000000000\)"):
        run_cluster_shard(replace(task, code="0.0 (code 000000000000)"))


def test_an_unreachable_scheduler_is_one_line_and_exit_3(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["compare", "--profile", "generic-dc@1.0", "--scheduler", "tcp://127.0.0.1:1",
              "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == ExitCode.BACKEND_UNAVAILABLE, result.output
    assert result.stderr.strip().splitlines() == [
        "error: --scheduler tcp://127.0.0.1:1: no Dask scheduler reachable (Connection refused)"
    ]


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("127.0.0.1:8786", "expected tcp://HOST:PORT (a Dask scheduler) or local:N"),
        ("tcp://127.0.0.1:70000", "port 70000 is not in 1-65535"),
        ("local:0", "or local:N (N worker processes on this machine, 1-64)"),
    ],
)
def test_a_bad_scheduler_address_is_bad_input(tmp_path: Path, address: str, says: str) -> None:
    result = runner.invoke(
        app, ["compare", "--profile", "generic-dc@1.0", "--scheduler", address,
              "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --scheduler {address}: ") and says in line


def test_without_the_dask_extra_scheduler_names_the_install_and_other_commands_work(
    tmp_path: Path,
) -> None:
    """Dask not importable (as without ``simrig[dask]``; any import of it fails): the
    CLI loads, ``--scheduler`` says what to install, ``compare`` without it runs."""
    script = (
        "import sys\n"
        "sys.modules.update(dask=None, distributed=None)  # import dask: ImportError\n"
        "from simrig.__main__ import entry\n"
        "options = sys.argv[1:]\n"
        "for extra in (['--scheduler', 'local:2'], []):\n"
        "    sys.argv = ['simrig', *options, *extra]\n"
        "    try:\n"
        "        entry()\n"
        "    except SystemExit as end:\n"
        "        print('exit', end.code, file=sys.stderr)\n"
    )
    options = ["compare", "--profile", "generic-dc@1.0", "--sessions", "5", "--days", "1"]
    done = subprocess.run(
        [sys.executable, "-c", script, *options, "--format", "plain", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if "sessions" not in line]
    assert lines == [
        "error: --scheduler needs Dask distributed: pip install 'simrig[dask]'",
        f"exit {ExitCode.BAD_INPUT:d}",
        "exit 0",
    ], done.stderr
    assert "summary:" in done.stdout
