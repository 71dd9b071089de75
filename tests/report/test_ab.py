"""A/B statistics against published values (Newcombe 1998, Stat Med 17:857-872), the
Holm adjustment, and the field-table layout of summary.txt."""

from collections import Counter

import pytest

from simrig.report.ab import (
    ab_rows,
    fisher_exact_p,
    holm,
    newcombe_interval,
    summary_text,
    two_proportion_p,
    wilson_interval,
)
from simrig.report.ab_chart import ab_chart_png
from simrig.report.stats import ProfileStats


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table_i(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (lo, hi) == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))


def test_newcombe_hybrid_score_matches_table_ii():
    # 56/70 - 48/80 = 0.2000, method 10: 0.0524 to 0.3339; 9/10 - 3/10: 0.1705 to 0.8090
    assert newcombe_interval(48, 80, 56, 70) == (
        pytest.approx(0.0524, abs=1e-4),
        pytest.approx(0.3339, abs=1e-4),
    )
    assert newcombe_interval(3, 10, 9, 10) == (
        pytest.approx(0.1705, abs=1e-4),
        pytest.approx(0.8090, abs=1e-4),
    )


def test_fisher_exact_matches_published_values():
    # Fisher's tea tasting (3 of 4 vs 1 of 4): 0.4857; R's fisher.test on
    # matrix(c(1, 11, 9, 3), 2): 0.002759
    assert fisher_exact_p(3, 4, 1, 4) == pytest.approx(0.4857, abs=1e-4)
    assert fisher_exact_p(1, 12, 9, 12) == pytest.approx(0.002759, abs=1e-6)
    assert fisher_exact_p(0, 30, 0, 30) == pytest.approx(1.0)
    # where the z-test is too eager (a profile against itself, 4 vs 0 of 30)
    assert two_proportion_p(4, 30, 0, 30) < 0.05 < fisher_exact_p(4, 30, 0, 30)


def test_two_proportion_p_and_holm():
    assert two_proportion_p(10, 100, 10, 100) == pytest.approx(1.0)
    assert two_proportion_p(0, 100, 0, 100) == 1.0
    # 40/100 vs 25/100: Pearson chi-square 5.128 (no continuity correction), p 0.0235
    assert two_proportion_p(40, 100, 25, 100) == pytest.approx(0.0235, abs=2e-4)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def _stats(name: str, sessions: int, labels: dict[str, int]) -> ProfileStats:
    s = ProfileStats(name, sessions=sessions)
    s.by_label = Counter(labels)
    s.anomalous = sum(labels.values())
    return s


def test_summary_is_the_field_table_with_full_names_and_verdicts(tmp_path):
    a = _stats("sinexcel-dc@2090104-with-a-very-long-vendor-build-name", 1451, {"1": 162, "9": 1})
    b = _stats("sinexcel-dc@2090404", 1451, {"1": 2})
    rows = {r.label: r for r in ab_rows([a, b])}
    assert rows["1"].comparisons[0].verdict == "lower"  # 162 vs 2 lost bills
    assert rows["9"].comparisons[0].verdict == "no significant difference"
    assert rows["5"].comparisons == [None]
    text = summary_text([a, b])
    assert a.profile + " n" in text and b.profile + " n" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("1 "))
    assert "162" in line and "111.65" in line and "lower" in line  # 162/1451 = 111.65 ‰
    assert ab_chart_png([a, b], tmp_path / "ab.png").read_bytes()[:4] == b"\x89PNG"
