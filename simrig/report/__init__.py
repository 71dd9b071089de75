"""Reports of runs: rich tables, PNG timelines, the results JSON and the report folder.

Typical use by a runner::

    from simrig.report import print_report, write_report, exit_code
    print_report(results, console)
    write_report(results, out_dir)
    raise SystemExit(exit_code(results))

and for A/B: ``rows = stats_by_profile(results)``, then ``compare_table(rows)`` and
``compare_bar_png(rows, path)``. The names load on first use (matplotlib is slow to
import), so ``simrig.report.progress`` and ``simrig.report.text`` stay cheap for the CLI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .folder import exit_code, print_report, session_png_path, write_report
    from .plots import RunIndex, compare_bar_png, session_timeline_png
    from .results_json import load_results_json, result_to_dict, write_results_json
    from .stats import ProfileStats, stats_by_profile
    from .tables import compare_table, session_table, summary_table

_WHERE = {
    "ProfileStats": "stats",
    "RunIndex": "plots",
    "compare_bar_png": "plots",
    "compare_table": "tables",
    "exit_code": "folder",
    "load_results_json": "results_json",
    "print_report": "folder",
    "result_to_dict": "results_json",
    "session_png_path": "folder",
    "session_table": "tables",
    "session_timeline_png": "plots",
    "stats_by_profile": "stats",
    "summary_table": "tables",
    "write_report": "folder",
    "write_results_json": "results_json",
}

__all__ = [
    "ProfileStats",
    "RunIndex",
    "compare_bar_png",
    "compare_table",
    "exit_code",
    "load_results_json",
    "print_report",
    "result_to_dict",
    "session_png_path",
    "session_table",
    "session_timeline_png",
    "stats_by_profile",
    "summary_table",
    "write_report",
    "write_results_json",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
