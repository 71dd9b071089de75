"""Reports of runs: rich tables, PNG timelines, the results JSON and the report folder.

Typical use by a runner::

    from simrig.report import print_report, write_report, exit_code
    print_report(results, console)
    write_report(results, out_dir)
    raise SystemExit(exit_code(results))

and for A/B: ``rows = stats_by_profile(results)``, then ``compare_table(rows)`` and
``compare_bar_png(rows, path)``.
"""

from .folder import exit_code, print_report, session_png_path, write_report
from .plots import RunIndex, compare_bar_png, session_timeline_png
from .results_json import load_results_json, result_to_dict, write_results_json
from .stats import ProfileStats, stats_by_profile
from .tables import compare_table, session_table, summary_table

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
