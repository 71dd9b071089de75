"""A scenario's pile quirk overrides and ``disable_quirks`` are validated (issue 14 item
2): a typo never leaves a quirk on silently; errors name file, line and field."""

import pytest

from simrig.scenarios import ScenarioError, parse_scenario
from simrig.sim.world import pile_profile

PILE = """[meta]
name = "x"

[[piles]]
pile_no = "44030400030015"
profile = "sinexcel-dc@2090104"
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'disable_quirks = ["random_bill_los"]\n',
            r"x\.toml:7: piles\[0\]\.disable_quirks: 'random_bill_los' is not a quirk name",
        ),
        (
            'disable_quirks = ["preparing_before_ready"]\n',
            r"x\.toml:7: piles\[0\]\.disable_quirks: "
            r"'preparing_before_ready' is not a quirk of sinexcel-dc@2090104",
        ),
        (
            "\n[piles.quirks.random_bill_loss]\nrate = 0.1\nratio = 2\n",
            r"x\.toml:10: "
            r"piles\[0\]\.quirks\.random_bill_loss\.ratio: unknown parameter",
        ),
        (
            "\n[piles.quirks.random_bill_loss]\nrate = 1.1\n",
            r"x\.toml:9: "
            r"piles\[0\]\.quirks\.random_bill_loss\.rate: must be between 0 and 1",
        ),
        ("\n[piles.quirks.bogus]\n", r"x\.toml:8: piles\[0\]\.quirks\.bogus: unknown quirk"),
        (
            "\n[piles.quirks.bill_loss]\nrate = 0.1\n",
            r"x\.toml:8: "
            r"piles\[0\]\.quirks\.bill_loss: sets primitive bill_loss, "
            r"already set by quirks\.random_bill_loss",
        ),
    ],
)
def test_bad_pile_quirks_are_one_line_errors(extra, expected):
    with pytest.raises(ScenarioError, match=expected) as info:
        parse_scenario(PILE + extra, source="x.toml")
    assert "\n" not in str(info.value)


def test_good_overrides_apply_and_disable_switches_off():
    extra = (
        'disable_quirks = ["random_bill_loss"]\n\n'
        "[piles.quirks.bill_loss]\nrate = 0.3\n\n[piles.quirks.occupancy_spike]\nrate = 0.5\n"
    )
    scenario = parse_scenario(PILE + extra, source="x.toml")
    profile = pile_profile(scenario.piles[0])
    assert "random_bill_loss" not in profile.quirks
    assert profile.quirks["bill_loss"] == {"rate": 0.3}
    assert profile.quirks["occupancy_spike"]["rate"] == 0.5
    assert profile.quirks["occupancy_spike"]["delay_s"] == (5400.0, 32400.0)  # the profile's
