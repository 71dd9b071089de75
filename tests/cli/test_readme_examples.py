"""Every shell example in README.md runs, as written, against servers the test starts.

Each ```` ```sh ```` block runs in order in a scratch folder (``captures`` and ``tests``
linked in). What the test changes, and only that:

- the ports 8767 / 8768 become free ports (the same within a block);
- a ``tcp://`` or ``serial:`` backend the block does not start itself is a reference
  platform the test starts (``serial:/dev/ttyUSB0`` becomes pyserial's
  ``socket://`` URL to it);
- placeholder files (``my_case.toml``, ``capture.bin``) are written first;
- ``make demo`` runs the Makefile's own recipe (checked to be that recipe).

A long example (:data:`LONG`: a real-time run of an hour, a station month) gets SIGINT
after :data:`BOUND_S` seconds and must end in order: exit 4 (interrupted), within 20 s,
saying so. Every other command must exit 0 within 60 s. ``make test`` is not run (it
runs this suite).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from simrig.adapters.platform_process import PlatformProcess, start_platform
from simrig.exit_codes import ExitCode
from simrig.scenarios import library_path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BOUND_S = 4.0
#: examples that run for minutes or hours as written: interrupted after BOUND_S
LONG = (
    re.compile(r"--clock realtime"),  # an hour of scenario time at speed 1
    re.compile(r"^simrig compare .*--days 30"),  # two station-months
    re.compile(r"^simrig compare .*--sessions 25000"),  # two fleets of 25,000 sessions
    re.compile(r"^simrig load .*--duration 10m"),  # ten minutes of load
    re.compile(r"^simrig platform serve [^&]*$"),  # a server in the foreground
)
NOT_RUN = {
    "make test": "runs the whole test suite, this test included",
    "locust -f": "a master and workers on several machines (tests/load/test_locust.py runs "
    "a master and two workers on loopback)",
    "dask ": "a Dask scheduler and workers on several machines (tests/cli/test_compare_dask.py "
    "runs a scheduler and two workers on loopback)",
    "simrig compare --scheduler tcp://SCHEDULER": "needs that cluster (tested as above)",
}
#: commands of the aligned-clock example (shell variables ``$T0``, ``$EPOCH``): not run
#: here; tests/cli/test_run_backend.py runs ``simrig run`` against ``simrig platform
#: serve`` with the same options and aligned clocks
SHELL_VARIABLES = re.compile(r"\$T0|\$EPOCH|^T0=")


def shell_examples(text: str) -> list[list[str]]:
    """The commands of each ```sh block (continuation lines joined, comments kept)."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S)
    return [
        [
            c.strip()
            for c in block.replace("\\\n", " ").splitlines()
            if c.strip() and not c.strip().startswith("#")  # a comment line is no command
        ]
        for block in blocks
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _short_case() -> str:
    """``my_case.toml``: the clean card session, shortened to 80 s of scenario time."""
    text = library_path("basic_card_session").read_text(encoding="utf-8")
    head = text[: text.index("[[timeline]]")].replace('duration = "1h"', 'duration = "80s"')
    steps = [("10:00:01", "plug", 'vehicle = "car"'), ("+2s", "card", 'user = "alice"')]
    steps += [("+30s", "card", 'user = "alice"'), ("+5s", "unplug", "")]
    timeline = "".join(
        f'[[timeline]]\nat = "{at}"\ndo = "{do}"\npile = "55031412782305"\n{extra}\n\n'
        for at, do, extra in steps
    )
    expect = text[text.index("[[expect]]") :]
    return head.replace('name = "basic_card_session"', 'name = "my_case"') + timeline + expect


@functools.cache
def _next_version() -> str:
    """``my-next-version.toml``: a vendor's profile file, as ``simrig firmware show`` starts
    one (docs/profile-format.md), renamed to a version of its own."""
    shown = subprocess.run(
        [sys.executable, "-m", "simrig", "firmware", "show", "sinexcel-dc@2090404"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return shown.replace('version = "2090404"', 'version = "2090500"', 1)


def _scratch(folder: Path) -> Path:
    """A working folder as the README assumes: ``captures``, ``tests``, placeholders."""
    folder.mkdir(parents=True)
    for name in ("captures", "tests"):
        (folder / name).symlink_to(ROOT / name)
    (folder / "my_case.toml").write_text(_short_case(), encoding="utf-8")
    (folder / "my-next-version.toml").write_text(_next_version(), encoding="utf-8")
    login = bytes.fromhex("680C0000000255031412782305 00DA4C".replace(" ", ""))
    (folder / "capture.bin").write_bytes(login * 2)
    return folder


def _is_run(command: str) -> bool:
    """Whether this test runs ``command`` (not :data:`NOT_RUN`, no shell variables)."""
    return not any(command.startswith(s) for s in NOT_RUN) and not SHELL_VARIABLES.search(command)


def _units(blocks: list[list[str]]) -> list[list[str]]:
    """What can run at the same time: a block that starts a server in the background runs
    as one unit, in order; any other command is a unit of its own."""
    units: list[list[str]] = []
    for commands in blocks:
        commands = [c for c in commands if _is_run(c)]
        if any(_words(c)[-1:] == ["&"] for c in commands):
            units.append(commands)
        else:
            units += [[c] for c in commands]
    return units


def _run_unit(commands: list[str], cwd: Path) -> int:
    block = Block(cwd)
    try:
        for command in commands:
            _run_command(block, command)
    finally:
        block.stop()
    return len(commands)


class Block:
    """One README block: its port map and the servers it (or the test) started."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.ports = {"8767": str(_free_port()), "8768": str(_free_port())}
        self.servers: list[PlatformProcess] = []
        self.started: set[str] = set()

    def ported(self, command: str) -> str:
        for old, new in self.ports.items():
            command = re.sub(rf"(?<=:){old}\b", new, command)
        return command

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _words(command: str) -> list[str]:
    """Split like the shell: ``#`` starts a comment only at the start of a word
    (``igo_case#29`` is one word)."""
    return shlex.split(re.sub(r"(^|\s)#.*$", "", command))


def _argv(words: list[str]) -> list[str]:
    if words[0] == "simrig":
        return [sys.executable, "-m", "simrig", *words[1:]]
    return words


def _run(argv: list[str], env: dict[str, str], cwd: Path, command: str) -> None:
    long = any(p.search(command) for p in LONG)
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=BOUND_S if long else 60)
        expected = ExitCode.PASS
    except subprocess.TimeoutExpired:
        assert long, f"{command}: still running after 60 s"
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{command}: did not end within 20 s of SIGINT") from None
        if command.startswith("simrig platform serve"):  # a server: Ctrl-C ends it, exit 0
            expected = ExitCode.PASS
            assert out.startswith("listening on"), (command, out, err)
        else:
            expected = ExitCode.INTERRUPTED
            assert "interrupted" in err, (command, err)
    assert "Traceback" not in err, (command, err)
    assert proc.returncode == expected, (command, proc.returncode, out[-2000:], err[-2000:])


def _in_folder(options: list[str], cwd: Path) -> list[str]:
    """A background server's file options (``--config``, ``--db``) as the block's shell
    would read them: relative to the block's folder."""
    out = list(options)
    for i, word in enumerate(out[:-1]):
        if word in ("--config", "--db") and not Path(out[i + 1]).is_absolute():
            out[i + 1] = str(cwd / out[i + 1])
    return out


def _run_command(block: Block, command: str) -> None:
    words = _words(block.ported(command))
    env = {**os.environ, "COLUMNS": "80"}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    background = words[-1] == "&"
    if background:
        words.pop()
    if words[:3] == ["simrig", "platform", "serve"] and background:
        listen = words[words.index("--listen") + 1]
        server = start_platform(_in_folder(words[3:], block.cwd))
        assert f"127.0.0.1:{server.port}" == listen, (command, server.port)
        block.servers.append(server)
        block.started.add(listen.rsplit(":", 1)[1])
        return
    assert not background, f"{command}: only a server runs in the background"
    if words[:2] == ["make", "demo"]:
        recipe = "$(BIN)/simrig demo --out out/demo"
        assert recipe in (ROOT / "Makefile").read_text(), "the demo recipe changed"
        words = ["simrig", "demo", "--out", "out/demo"]
    own: list[PlatformProcess] = []  # a backend for this command only
    for i, word in enumerate(words):
        backend = re.match(r"^(tcp://127\.0\.0\.1:|serial:)(.*)$", word)
        if backend and words[i - 1] == "--backend":
            port = backend.group(2) if word.startswith("tcp://") else block.ports["8767"]
            if port not in block.started:
                own.append(
                    start_platform(
                        ["--listen", f"127.0.0.1:{port}", "--http", "off", "--db", "t.sqlite"]
                    )
                )
            if word.startswith("serial:"):
                words[i] = f"serial:socket://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        _run(_argv(words), env, block.cwd, command)
        print(f"{time.monotonic() - started:5.1f} s  {command}")
    finally:
        for server in own:
            server.stop()


def test_every_shell_example_in_the_readme_runs(tmp_path: Path) -> None:
    blocks = shell_examples(README.read_text(encoding="utf-8"))
    commands = [c for block in blocks for c in block]
    assert len(commands) >= 15, commands  # the parser found the README's examples
    for skipped in NOT_RUN:
        assert any(c.startswith(skipped) for c in commands), f"{skipped}: no longer in README"
    units = _units(blocks)
    folders = [_scratch(tmp_path / f"unit{i}") for i in range(len(units))]
    # mostly waiting (real-time runs, servers): three at a time, each in its own folder
    with ThreadPoolExecutor(max_workers=3) as pool:
        ran = sum(pool.map(_run_unit, units, folders))
    not_run = [c for c in commands if not _is_run(c)]
    assert ran == len(commands) - len(not_run)
    demo = next(f for f, u in zip(folders, units, strict=True) if u[0].startswith("make demo"))
    assert (demo / "out" / "demo" / "summary.txt").is_file()


def test_the_readme_decode_example_is_one_frame() -> None:
    example = next(
        c for b in shell_examples(README.read_text()) for c in b if c.startswith("simrig decode 68")
    )
    out = subprocess.run(_argv(_words(example)), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("login_reply") == 1 and "error" not in out.stdout
