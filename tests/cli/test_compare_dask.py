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
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client
from typer.testing import CliRunner

import simrig
from simrig.cli import app
from simrig.cli.fleet import plan_fleet
from simrig.cli.workload import workload_spec
from simrig.exit_codes import ExitCode

from ..firmware_models.test_primitives import _doc_profiles

runner = CliRunner()
#: two shards per profile: 2 sessions per pile-day over 1 day, 40 sessions ≈ 20 piles
TWO_SHARDS = ["--sessions", "40", "--days", "1", "--sessions-per-pile-day", "2", "--seed", "5"]
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
        deadline = time.monotonic() + START_S
        while not file.exists() and time.monotonic() < deadline:
            self._check_running()
            time.sleep(0.1)
        self.address = str(json.loads(file.read_text())["address"])
        self.client = Client(self.address, timeout=START_S)

    def add_workers(self, count: int, env: dict[str, str] | None = None) -> None:
        """``count`` more worker processes of one thread; returns once the scheduler
        has them."""
        want = len(self.client.scheduler_info(n_workers=-1)["workers"]) + count
        for _ in range(count):
            self._start(
                "worker", self.address, "--nthreads", "1", "--no-dashboard",
                "--host", "127.0.0.1", env=env,
            )  # fmt: skip
        self.client.wait_for_workers(want, timeout=START_S)

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
        workers, scheduler = self.processes[1:], self.processes[:1]
        for group in (workers, scheduler):
            if group is scheduler:
                self.client.close()
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(STOP_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

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


def test_a_worker_with_other_simrig_code_is_refused_in_one_line(tmp_path: Path) -> None:
    """A worker importing another copy of simrig (same version number, one file changed):
    exit 3 before any shard is run."""
    dask = Cluster(tmp_path)
    copy = tmp_path / "other" / "simrig"
    shutil.copytree(
        Path(simrig.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    with (copy / "cli" / "fleet.py").open("a") as changed:
        changed.write("\n# another build\n")
    try:
        dask.add_workers(1, env={**os.environ, "PYTHONPATH": str(copy.parent)})
        result = _compare_process(
            "--profile", "generic-dc@1.0", *TWO_SHARDS, "--scheduler", dask.address,
            "--out", str(tmp_path / "out"),
        )  # fmt: skip
        computed = dask.computed_shards()
    finally:
        dask.stop()
    assert result.returncode == ExitCode.BACKEND_UNAVAILABLE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"runs simrig {simrig.__version__} (code " in lines[0]
    assert "install the same simrig on every worker" in lines[0]
    assert computed == 0
    assert not (tmp_path / "out" / "summary.txt").exists()


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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dask not importable (as without ``simrig[dask]``): ``--scheduler`` says what to
    install; ``compare`` without it still runs."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    options = ["--profile", "generic-dc@1.0", "--sessions", "5", "--out", str(tmp_path)]
    result = runner.invoke(app, ["compare", *options, "--scheduler", "local:2"])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert result.stderr.strip().splitlines() == [
        "error: --scheduler needs Dask distributed: pip install 'simrig[dask]'"
    ]
    assert runner.invoke(app, ["compare", *options]).exit_code == 0


def test_importing_simrig_and_its_cli_never_imports_dask() -> None:
    """Without the extra every other command works: no module imports Dask but the
    cluster's own code, when used."""
    code = (
        "import sys, simrig.cli, simrig.cli.compare, simrig.cli.fleet_dask\n"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
