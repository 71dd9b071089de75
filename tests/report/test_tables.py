"""Rich tables: per-session rows, the per-firmware summary and the A/B table."""

from dataclasses import replace

from rich.console import Console

from simrig.report.stats import (
    ProfileStats,
    label_description,
    ordered_labels,
    stats_by_profile,
)
from simrig.report.tables import billed_kwh, compare_table, session_table, summary_table

from .builders import PILE_A, PILE_B, key


def render(renderable, width: int = 220) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("│")[1:-1]]


def line_of(text: str, first_cell: str) -> str:
    """The (first) table line whose first cell is ``first_cell``."""
    for line in text.splitlines():
        row = cells(line)
        if row and row[0] == first_cell:
            return line
    raise AssertionError(f"no row {first_cell!r} in\n{text}")


def test_session_table_one_row_per_session(result_a):
    text = render(session_table(result_a))
    assert "zshy_case23_repeated_stop [zshy_case#23]" in text  # brackets are not markup
    assert "backend embedded" in text and "seed 7" in text and "FAIL" in text
    clean = line_of(text, key(PILE_A, 1))
    assert "sinexcel-dc@2090104" in clean
    assert "13:01:00–13:21:00" in clean
    assert "30.00 / 30.00 (+0.00)" in clean
    assert "pass" in clean
    lost = line_of(text, key(PILE_A, 2))
    assert cells(lost)[6] == "1"  # codes column
    assert "0.00 / 30.00 (-30.00)" in lost
    assert cells(lost)[3:5] == ["20.00", "—"]  # true vs billed kWh: no bill
    combo = line_of(text, key(PILE_A, 3))
    assert "9+11" in combo and "12.00" in combo and "FAIL (want 9, got 9+11)" in combo
    assert cells(combo)[7] == "1"  # one false notice
    missing = line_of(text, key(PILE_A, 9))
    assert "(no such session)" in missing and "FAIL" in missing


def test_session_table_pass_and_frames_only(result_b):
    text = render(session_table(result_b))
    assert "PASS" in text and "FAIL" not in text
    assert len([ln for ln in text.splitlines() if PILE_B in ln]) == 4
    assert "—" in line_of(text, key(PILE_B, 3))  # no expectation for that session
    # frames-only judgement: nothing charged known
    verdicts = [replace(v, charged_yuan=None) for v in result_b.verdicts]
    text = render(session_table(replace(result_b, verdicts=verdicts)))
    assert "— / 30.00" in line_of(text, key(PILE_B, 1))


def test_billed_kwh_prefers_platform_bill(result_a):
    clean, lost, combo = result_a.verdicts
    assert billed_kwh(clean) == 20.0
    assert billed_kwh(lost) is None
    assert billed_kwh(combo) == 12.0


def test_stats_count_exact_combos(result_a, result_b):
    a, b = stats_by_profile([result_a, result_b])
    assert (a.profile, a.sessions, a.anomalous) == ("sinexcel-dc@2090104", 3, 2)
    assert dict(a.by_label) == {"1": 1, "9+11": 1}
    assert dict(a.by_code) == {1: 1, 9: 1, 11: 1}
    assert a.count("9") == 0  # a 9+11 session counts under "9+11" only, as in the field table
    assert round(a.rate("1"), 2) == 333.33 and round(a.rate("any"), 2) == 666.67
    assert a.sessions_with_false_notice == 1 and a.false_notifications == 1
    assert a.overcharge_yuan == -42.0  # lost bill -30, 12 of 20 kWh billed -12
    assert (b.profile, b.sessions, b.anomalous) == ("sinexcel-dc@2090404", 4, 0)
    assert ProfileStats("empty").rate("1") == 0.0


def test_label_order_and_meaning():
    assert ordered_labels(["9+11", "10", "9+10", "2", "10+11"]) == [
        "2",
        "10",
        "9+10",
        "9+11",
        "10+11",
    ]
    assert ordered_labels([], all_single=True) == [str(c) for c in range(1, 12)]
    assert label_description("1").startswith("bill lost")
    assert label_description("9+11") == (
        "charging duration disagrees with the platform's record + energy lost"
    )


def test_summary_table_per_firmware_and_code(result_a, result_b):
    text = render(summary_table([result_a, result_b]))
    head = line_of(text, "sinexcel-dc@2090104")
    assert "3" in head and "any" in head and "666.67" in head
    assert "333.33" in line_of(text, "")  # follow-up rows of the group have no firmware cell
    codes = [cells(ln)[2] for ln in text.splitlines() if "│" in ln]
    assert codes == ["any", "1", "9+11", "notice", "any"]
    other = line_of(text, "sinexcel-dc@2090404")
    assert "4" in other and "0.00" in other


def test_compare_table_two_profiles(result_a, result_b):
    rows = stats_by_profile([result_a, result_b])
    text = render(compare_table(rows))
    assert "sinexcel-dc@2090104" in text and "sinexcel-dc@2090404" in text
    for code in range(1, 12):
        line_of(text, str(code))  # every code has a row, seen or not
    one = cells(line_of(text, "1"))
    assert one[2:] == ["1  (333.33)", "0  (0.00)"]
    combo = cells(line_of(text, "9+11"))
    assert combo[2:] == ["1  (333.33)", "0  (0.00)"]
    assert cells(line_of(text, "9"))[2:] == [
        "0  (0.00)",
        "0  (0.00)",
    ]
    sessions = cells(line_of(text, "sessions"))
    assert sessions[2:] == ["3", "4"]
    assert cells(line_of(text, "any"))[2:] == [
        "2  (666.67)",
        "0  (0.00)",
    ]


def test_compare_table_field_numbers():
    """igo_case#17: 2090104 on 1741 sessions, code 1 × 29."""
    stats = ProfileStats("sinexcel-dc@2090104", sessions=1741, anomalous=29)
    stats.by_label["1"] = 29
    text = render(compare_table([stats], title="igo_case#17"))
    assert "29  (16.66)" in line_of(text, "1")
    assert "1741" in line_of(text, "sessions")
