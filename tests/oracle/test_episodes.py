"""Truth per charging episode (issue 14 item 7): a restart within one plug-in is judged
against its own charging episode, not the whole plug-in."""

from pathlib import Path

from simrig.scenarios import parse_scenario
from simrig.sim.runner import run_scenario

SCENARIO = (Path(__file__).with_name("restart_after_outage.toml")).read_text()


def _run(extra: str = ""):
    [verdict] = run_scenario(parse_scenario(SCENARIO + extra, source="restart.toml")).verdicts
    return verdict


def test_a_restart_after_the_pile_stopped_offline_is_two_right_bills():
    verdict = _run()
    assert len(verdict.truth.episodes) == 2 and len(verdict.orders) == 2
    assert [set(o.codes) for o in verdict.orders] == [set(), set()]  # was 3+5 on both
    assert verdict.codes == frozenset()
    # the platform's offline reading ended the charge while current still flowed for
    # 120 s: those notices stay false
    first_end = verdict.truth.episodes[0][1]
    assert verdict.false_notifications
    assert all(n.at < first_end for n in verdict.false_notifications)


def test_a_wrong_bill_in_the_second_episode_is_still_caught():
    late = "\n[piles.quirks.late_end_stamp]\nrate = 1.0\noffset_s = [600, 600]\n"
    scenario = SCENARIO.replace(
        'profile = "generic-dc@1.0"\n', 'profile = "generic-dc@1.0"\n' + late
    )
    [verdict] = run_scenario(parse_scenario(scenario, source="restart.toml")).verdicts
    # each end 600 s late against its own episode (3, 5; 9 against the platform's
    # record); the first bill now reaches into the second one (7)
    codes = [{int(c) for c in o.codes} for o in verdict.orders]
    assert codes[0] >= {3, 5, 9} and codes[1] >= {3, 5, 9}
    assert 7 in codes[0] | codes[1]
