"""The report folder and the console report.

``write_report(results, out_dir)`` writes::

    out_dir/
      results.json                    (simrig.report.results_json)
      summary.txt                     the tables below as plain text
      report.html                     one self-contained page (simrig.report.html)
      compare.png                     only when the runs cover two or more profiles
      sessions/<scenario>/<key>.png   one timeline per anomalous session and per session
                                      that failed its expectation
      capture.pcapng, frames.jsonl    the run's wire capture (one run; several runs:
                                      captures/<scenario>/capture.pcapng, frames.jsonl)

``<key>`` is ``pile:gun:session`` with ``:`` written as ``-`` (portable file names);
scenario names keep ``[A-Za-z0-9._#@+-]``, other characters become ``_``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from simrig.capture import Chunk
from simrig.exit_codes import ExitCode
from simrig.oracle.judge import SessionVerdict
from simrig.sim.results import INTERRUPTED, RunResult

from .backend import deviations_table, diagnostic_lines
from .html import write_html_report
from .plots import RunIndex, compare_bar_png, session_timeline_png
from .results_json import is_partial, write_results_json
from .stats import stats_by_profile
from .tables import compare_table, run_label, session_table, summary_table
from .text import print_table

__all__ = [
    "CAPTURE_MODES",
    "SAMPLE_PILES",
    "clear_previous_report",
    "exit_code",
    "print_diagnostics",
    "print_report",
    "session_png_path",
    "write_capture_files",
    "write_report",
]

#: what a report captures: every pile, the first SAMPLE_PILES piles, or nothing
CAPTURE_MODES = ("all", "sample", "none")
#: the capture files of a run (:func:`write_capture_files`)
CAPTURE_FILES = ("capture.pcapng", "frames.jsonl")
SAMPLE_PILES = 4

_UNSAFE = re.compile(r"[^A-Za-z0-9._#@+-]")


def safe_name(name: str) -> str:
    return _UNSAFE.sub("_", name.replace(":", "-")).strip(".") or "_"


def session_png_path(out_dir: str | Path, scenario: str, key: str) -> Path:
    """Where :func:`write_report` puts a session's timeline."""
    return Path(out_dir) / "sessions" / safe_name(scenario) / f"{safe_name(key)}.png"


def exit_code(results: Sequence[RunResult]) -> ExitCode:
    """Process exit code (:mod:`simrig.exit_codes`): 4 when a run was interrupted, else 3
    when a backend was unreachable or incompatible, else 1 when any expectation failed
    (or was not judged: an untested backend), else 0."""
    if is_partial(results):
        return ExitCode.INTERRUPTED
    if any(r.backend_failed for r in results):
        return ExitCode.BACKEND_UNAVAILABLE
    return ExitCode.PASS if all(r.passed for r in results) else ExitCode.EXPECTATIONS_FAILED


def print_diagnostics(results: Sequence[RunResult], console: Console) -> None:
    """Diagnostics first: one line per pile with trouble (printed before any verdict)."""
    for result in results:
        lines = diagnostic_lines(result)
        if lines:
            console.print(
                Text(
                    f"Diagnostics · {result.scenario_name} · backend {result.backend}", style="bold"
                )
            )
            for line in lines:
                console.print(line)
            console.print()


def partial_banner(results: Sequence[RunResult], interrupted: bool = False) -> Text | None:
    """The first line of a report whose run was ended by Ctrl-C or SIGTERM (else None)."""
    if not is_partial(results, interrupted):
        return None
    cut = [run_label(r) for r in results if r.stopped_early == INTERRUPTED]
    detail = f"; cut short: {', '.join(cut)}" if cut else ""
    if not results:
        detail = "; no run finished"
    return Text(
        f"PARTIAL REPORT: the run was interrupted (Ctrl-C or SIGTERM){detail}; "
        "sessions are judged up to the interruption, expectations of a cut run are not checked",
        style="bold yellow",
    )


def print_report(
    results: Sequence[RunResult], console: Console, plain: bool = False, interrupted: bool = False
) -> None:
    """Per-run session tables, the summary per firmware and code, the A/B table when the
    runs cover several profiles, and the failed expectations. Diagnostics come first,
    backend deviations after each run's sessions. A table wider than the console is
    stacked, never cut (:func:`simrig.report.text.print_table`); ``plain``: ASCII borders.
    A partial report (``interrupted``, or a run cut short) starts by saying so."""
    banner = partial_banner(results, interrupted)
    if banner is not None:
        console.print(banner, overflow="fold")
        console.print()
    print_diagnostics(results, console)
    for result in results:
        print_table(console, session_table(result), plain)
        console.print()
        deviations = deviations_table(result)
        if deviations is not None:
            print_table(console, deviations, plain)
            console.print()
    print_table(console, summary_table(results), plain)
    stats = stats_by_profile(results)
    if len(stats) > 1:
        console.print()
        print_table(console, compare_table(stats), plain)
    failed = [(r, e) for r in results for e in r.expectations if not e.passed]
    console.print()
    if failed:
        console.print(Text(f"{len(failed)} expectation(s) failed:", style="bold red"))
        for result, e in failed:
            console.print(
                Text(
                    f"  {run_label(result)} {e.key}: expected {e.expected}, got {e.actual}",
                ),
                overflow="fold",
            )
    elif banner is not None:
        checked = sum(len(r.expectations) for r in results)
        console.print(Text(f"PARTIAL: {checked} expectation(s) checked, all passed", style="bold"))
    else:
        checked = sum(len(r.expectations) for r in results)
        console.print(Text(f"all {checked} expectation(s) passed", style="bold green"))


def write_capture_files(
    result: RunResult, folder: Path, capture: str = "all", stem: str | None = None
) -> list[Path]:
    """Write ``capture.pcapng`` and ``frames.jsonl`` of one run into ``folder`` (with a
    ``stem``: ``<stem>.pcapng`` and ``<stem>.jsonl``), streamed a chunk at a time from its
    chunks and its ``connected``/``disconnected`` events.

    ``capture="sample"`` keeps the first :data:`SAMPLE_PILES` piles (scenario order);
    streams still open at the end close at the scenario's end."""
    from simrig.capture.formats import feed, run_items
    from simrig.capture.pcap import PcapngWriter
    from simrig.capture.textfiles import JsonlWriter

    piles = list(result.profiles)
    keep = piles[:SAMPLE_PILES] if capture == "sample" else None
    folder.mkdir(parents=True, exist_ok=True)
    names = (
        ("capture.pcapng", "frames.jsonl") if stem is None else (f"{stem}.pcapng", f"{stem}.jsonl")
    )
    paths = [folder / name for name in names]
    end = result.wall(result.duration_s)
    last = max(end, result.chunks[-1].at) if result.chunks else end
    with (
        PcapngWriter(paths[0], piles if keep is None else keep) as pcap,
        JsonlWriter(paths[1]) as jsonl,
    ):
        for item in run_items(result.chunks, result.events, result.wall, keep):
            if type(item) is Chunk:
                pcap.write(item)
                jsonl.write(item)
            else:
                feed(pcap, (item,))
                feed(jsonl, (item,))
        pcap.close(last)
    return paths


#: the files a report writes at the top of its folder (and removes before writing anew)
OWN_FILES = ("results.json", "summary.txt", "compare.png", "report.html", *CAPTURE_FILES)


def clear_previous_report(out: Path) -> list[Path]:
    """Remove what an earlier report wrote into ``out`` — only its own files
    (:data:`OWN_FILES`, ``sessions/*/*.png``, ``captures/*/`` capture files), then the
    folders that left empty — so results of two runs never mix. Returns what it removed."""
    removed = [out / name for name in OWN_FILES if (out / name).is_file()]
    removed += sorted((out / "sessions").glob("*/*.png"))
    removed += [p for name in CAPTURE_FILES for p in sorted((out / "captures").glob(f"*/{name}"))]
    for path in removed:
        path.unlink()
    for parent in ("sessions", "captures"):
        folder = out / parent
        if folder.is_dir():
            for sub in sorted(folder.iterdir()):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()
    return removed


def sessions_to_draw(result: RunResult) -> list[SessionVerdict]:
    """The sessions that get a timeline: every anomalous one and every one that failed
    its expectation (a missing anomaly is a finding too), in run order."""
    failed = {e.key for e in result.expectations if not e.passed}
    anomalous = {id(v) for v in result.anomalous}
    return [v for v in result.verdicts if id(v) in anomalous or v.key in failed]


def write_report(
    results: Sequence[RunResult],
    out_dir: str | Path,
    *,
    max_timelines: int | None = None,
    on_png: Callable[[Path], None] | None = None,
    capture: str = "all",
    interrupted: bool = False,
) -> Path:
    """Write the report folder for ``results`` and return it, after removing the previous
    report's own files from it (:func:`clear_previous_report`; other files stay).

    ``max_timelines`` caps the session PNGs per run (None: every anomalous session; a
    timeline takes about 0.3 s); ``on_png`` is called after each PNG (progress bars);
    ``capture`` is one of :data:`CAPTURE_MODES` (:func:`write_capture_files`);
    ``interrupted``: Ctrl-C or SIGTERM ended the run (a partial report, marked so).
    """
    if capture not in CAPTURE_MODES:
        raise ValueError(f"capture {capture!r}: expected one of {', '.join(CAPTURE_MODES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous_report(out)
    write_results_json(results, out / "results.json", interrupted)
    if capture != "none":
        for i, result in enumerate(results):
            folder = (
                out if len(results) == 1 else out / "captures" / safe_name(result.scenario_name)
            )
            if len(results) > 1 and any(
                r.scenario_name == result.scenario_name for r in results[:i]
            ):
                folder = folder.with_name(f"{folder.name}-{i + 1}")
            write_capture_files(result, folder, capture)
    stats = stats_by_profile(results)
    if len(stats) > 1:
        compare_bar_png(stats, out / "compare.png")
        if on_png is not None:
            on_png(out / "compare.png")
    used: dict[Path, int] = {}
    skipped = 0
    drawn: dict[tuple[int, str], Path] = {}
    for run_index, result in enumerate(results):
        folder = session_png_path(out, result.scenario_name, "x").parent
        # the same scenario twice (several cases or seeds): number the later folders
        used[folder] = used.get(folder, 0) + 1
        if used[folder] > 1:
            folder = folder.with_name(f"{folder.name}-{used[folder]}")
        anomalous = sessions_to_draw(result)
        if not anomalous:
            continue
        if max_timelines is not None:
            skipped += max(0, len(anomalous) - max_timelines)
            anomalous = anomalous[: max(0, max_timelines)]
        index = RunIndex(result)
        for verdict in anomalous:
            path = folder / f"{safe_name(verdict.key)}.png"
            session_timeline_png(result, verdict, path, index)
            drawn[run_index, verdict.key] = path
            if on_png is not None:
                on_png(path)
    console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
    print_report(results, console, interrupted=interrupted)
    if skipped:
        console.print(f"{skipped} anomalous session(s) without a timeline (max_timelines)")
    (out / "summary.txt").write_text(console.export_text(), encoding="utf-8")
    banner = partial_banner(results, interrupted)
    write_html_report(
        results,
        out,
        drawn,
        exit_code=ExitCode.INTERRUPTED if interrupted else exit_code(results),
        banner=banner.plain if banner is not None else None,
    )
    return out
