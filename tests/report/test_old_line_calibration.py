"""igo_case#17's old line (11536/11523) in the reference platform's own flags, at a size
CI affords.

The full calibration — each profile at the field's ~11,700 sessions, seeds 1, 2, 3, the
rig's count per label against the field's acceptance interval — is the benchmark
``benchmarks/calibration.py``: the field's rates there (0.2–2 ‰) would show 0–3 times in
the few hundred sessions CI can run, which checks nothing. What CI checks honestly: the
same profile with every igo_case#17 rate raised ``K``-fold *in profile data* (the same
mechanisms, parameters and platform) on a small dense fleet, for seeds 1, 2 and 3:

* the mechanisms produce each of the labels 3, 9, 10, 9+10 and 9+11 in the platform's
  view (over the three seeds: ~7-10 of each expected);
* the commoner labels' rates (1, 9) are inside the field's acceptance interval × K,
  widened by the rig's own 95 % noise at this size (the rig's Wilson interval overlaps it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from simrig.cli.fleet import arm_stats, plan_fleet, platform_flags, run_fleet
from simrig.firmware_models import load_profile
from simrig.firmware_models.profile_toml import profile_toml
from simrig.report.ab import wilson_interval
from simrig.report.field_rates import FIELD_RATES
from simrig.report.stats import ProfileStats
from simrig.scenarios.workload import WorkloadSpec

K = 50
SESSIONS = 200
#: the entries of the old line's profile calibrated on igo_case#17 (their ``rate``)
CALIBRATED = (
    "random_bill_loss",
    "duration_mismatch",
    "energy_lost",
    "late_bill_close",
    "bill_time_anomaly",
)
COMMON = ("1", "9")


def raised(profile: str, folder: Path) -> Path:
    """``profile`` with each igo_case#17 rate × K, as a profile file."""
    p = load_profile(profile)
    quirks = {
        name: {**params, "rate": params["rate"] * K} if name in CALIBRATED else params
        for name, params in p.quirks.items()
    }
    path = folder / f"{p.vendor}-{p.model}@{p.version}x{K}.toml"
    path.write_text(profile_toml(replace(p, version=f"{p.version}x{K}", quirks=quirks)))
    return path


@pytest.fixture(scope="module")
def flags(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[ProfileStats, Counter[str]]]:
    """Per seed: (the oracle's counts, the platform's own flags) of the raised 11536
    profile."""
    path = raised("sinexcel-dc@11536", tmp_path_factory.mktemp("profiles"))
    out = {}
    for seed in (1, 2, 3):
        spec = WorkloadSpec(profile="", days=8, seed=seed, sessions_per_pile_day=4.0)
        results = run_fleet(plan_fleet(spec, SESSIONS), [str(path)])
        [stats] = arm_stats(results, [str(path)], spec.first_pile_no)
        [found] = platform_flags(results, [str(path)], spec.first_pile_no)
        out[seed] = (stats, found)
    return out


def test_the_mechanisms_produce_each_duration_and_occupancy_label(flags):
    seen = sum((found for _, found in flags.values()), Counter())
    for label in ("3", "9", "10", "9+10", "9+11"):
        assert seen[label] > 0, f"no {label} in the platform's flags: {dict(seen)}"


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("label", COMMON)
def test_commoner_rates_are_inside_the_raised_field_interval(flags, seed, label):
    [row] = [
        r
        for r in FIELD_RATES
        if r.case == "igo_case#17" and r.profile == "sinexcel-dc@11536" and r.label == label
    ]
    assert row.view == "platform"
    low, high = row.acceptance()
    stats, found = flags[seed]
    n, count = stats.sessions, row.rig_count(stats, found)
    rig_low, rig_high = wilson_interval(count, n)
    assert rig_low <= K * high and rig_high >= K * low, (
        f"code {label} seed {seed}: rig {count}/{n} = {1000 * count / n:.1f} ‰ "
        f"[{1000 * rig_low:.1f}, {1000 * rig_high:.1f}], field × {K} "
        f"[{1000 * K * low:.1f}, {1000 * K * high:.1f}] ‰"
    )
