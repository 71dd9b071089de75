"""Calibration against the field (issue 14 item 6), at a size CI affords.

Each field rate of :data:`~simrig.report.field_rates.CI_ROWS` (zpd_case#7, zpd_case#3,
zpd_case#10) must be matched by the rig for seeds 1, 2 and 3: the rig's rate inside the
field's Wilson 95 % interval widened to ±20 % relative. The full table (igo_case#17's old
line with its rare code 9/10/11 mixes needs ~11,700 sessions) runs at full size in
``benchmarks/calibration.py``. And a profile compared with itself (independent firmware
draws on the same sessions) shows no significant difference in at least 19 of 20 seeds.
"""

from __future__ import annotations

import pytest

from simrig.cli.fleet import arm_stats, plan_fleet, run_fleet
from simrig.report.ab import ab_rows
from simrig.report.field_rates import CI_ROWS, FIELD_RATES, FieldRate
from simrig.report.stats import ProfileStats
from simrig.scenarios.workload import WorkloadSpec

#: sessions per CI run: enough that the rig's own noise fits the widened interval
CI_SESSIONS = {"zpd_case#7": 350, "zpd_case#3": 200, "zpd_case#10": 74}


def fleet(profiles: list[str], sessions: int, seed: int) -> list[ProfileStats]:
    """A dense small fleet: 4 sessions per pile-day over 8 days."""
    spec = WorkloadSpec(profile="", days=8, seed=seed, sessions_per_pile_day=4.0)
    plan = plan_fleet(spec, sessions)
    return arm_stats(run_fleet(plan, profiles), profiles, spec.first_pile_no)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("row", CI_ROWS, ids=lambda r: f"{r.case}-{r.profile}")
def test_rig_rate_is_inside_the_field_interval(row: FieldRate, seed: int):
    [stats] = fleet([row.profile], CI_SESSIONS[row.case], seed)
    low, high = row.acceptance()
    count = stats.count(row.label)
    assert row.accepts(count, stats.sessions), (
        f"{row.case} {row.profile} code {row.label}: rig {count}/{stats.sessions} = "
        f"{1000 * count / stats.sessions:.1f} ‰ outside [{1000 * low:.1f}, {1000 * high:.1f}] ‰"
    )


def test_the_two_field_samples_of_2090104_disagree():
    """Why igo_case#17's 2090104 row is reported, not required: zpd_case#7 and it cannot
    both hold for one profile (their widened intervals do not overlap)."""
    zpd = next(r for r in FIELD_RATES if r.case == "zpd_case#7")
    igo = next(r for r in FIELD_RATES if r.case == "igo_case#17" and r.firmware == "2090104")
    assert igo.note and igo.acceptance()[1] < zpd.acceptance()[0]


def test_a_profile_against_itself_is_not_significant_in_19_of_20_seeds():
    profile = "sinexcel-dc@2090104"
    called = 0
    for seed in range(1, 21):
        a, b = fleet([profile, profile], 30, seed)
        assert (a.profile, b.profile) == (profile, f"{profile} #2")
        assert a.sessions == b.sessions == 30
        called += any(
            c is not None and c.significant for r in ab_rows([a, b]) for c in r.comparisons
        )
    assert called <= 1
