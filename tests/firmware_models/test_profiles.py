from pathlib import Path

import pytest

from simrig.firmware_models import ProfileError, list_profiles, load_profile, parse_profile
from simrig.firmware_models.quirks import PRESETS, PRIMITIVES

SHIPPED = {
    "sinexcel-dc@11523",
    "sinexcel-dc@11536",
    "sinexcel-dc@2090100",
    "sinexcel-dc@2090102",
    "sinexcel-dc@2090104",
    "sinexcel-dc@2090404",
    "sinexcel-dc@2090414",
    "juneng-dc@1.0.0",
    "xundao-ac@touch-1",
    "tongtu-ac@1",
    "generic-dc@1.0",
    "generic-ac@1.0",
}

GOOD = """
vendor = "acme"
model = "dc"
version = "9"
kind = "DC"
guns = 1
"""


def test_every_field_version_ships():
    names = {p.name for p in list_profiles()}
    assert names >= SHIPPED


def test_calibrated_rates_and_fixed_versions():
    p = load_profile("sinexcel-dc@2090104")
    assert p.quirks["random_bill_loss"]["rate"] == pytest.approx(162 / 1451, abs=0.005)
    assert "repeated_stop_loses_bill" in p.quirks
    assert load_profile("sinexcel-dc@2090404").quirks == {}
    assert load_profile("sinexcel-dc@2090414").quirks == {}
    old = load_profile("sinexcel-dc@11536")
    assert old.quirks["random_bill_loss"]["rate"] == pytest.approx(21 / 11700, rel=0.05)
    assert "billing_evasion_sequence" in old.quirks
    assert not load_profile("juneng-dc@1.0.0").remote_upgrade
    assert "start_failure_no_logout_late_bill" in load_profile("sinexcel-dc@2090102").quirks


def test_bill_at_unplug_and_pile_balance_stop_profiles():
    for p in list_profiles():
        assert p.timings.bill_at_unplug == (p.family == "sinexcel-dc"), p.name
        assert p.timings.pile_balance_stop == (p.vendor == "generic"), p.name
    assert parse_profile(GOOD, "x.toml").timings.bill_at_unplug is False
    assert parse_profile(GOOD, "x.toml").timings.pile_balance_stop is False


def test_every_preset_is_shipped_somewhere_and_every_primitive_cites_its_cases():
    used = set().union(*(p.quirks for p in list_profiles()))
    assert used == set(PRESETS)
    for preset in PRESETS.values():
        assert "_case#" in preset.case
    for cls in PRIMITIVES.values():
        for case in cls.case.split(","):
            assert "_case#" in case and case.strip() in " ".join((cls.__doc__ or "").split())
        assert "Decision point:" in (cls.__doc__ or "")


def test_quirk_defaults_are_filled():
    p = parse_profile(GOOD + "[quirks.random_bill_loss]\n", "x.toml")
    assert p.quirks == {"random_bill_loss": {"rate": 0.11}}
    assert p.name == "acme-dc@9"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "[quirks.random_bill_loss]\nrate = 1.5\n",
            "x.toml: quirks.random_bill_loss.rate: must be between 0 and 1",
        ),
        ("[quirks.bogus]\n", "x.toml: quirks.bogus: unknown quirk"),
        (
            "[quirks.random_bill_loss]\nratio = 0.1\n",
            "x.toml: quirks.random_bill_loss.ratio: unknown parameter",
        ),
        ("colour = 'red'\n", "x.toml: colour: unknown key"),
        ("[timings]\nheartbeat = 5\n", "x.toml: timings.heartbeat: unknown key"),
        ("[timings]\nbill_retry = 'forever'\n", "x.toml: timings.bill_retry: must be one of"),
        ("[timings]\nbill_delay_s = [5, 1]\n", "x.toml: timings.bill_delay_s: must be a [low"),
        ("[timings]\nbill_at_unplug = 1\n", "x.toml: timings.bill_at_unplug: must be true or"),
        (
            "[timings]\npile_balance_stop = 'yes'\n",
            "x.toml: timings.pile_balance_stop: must be true or false",
        ),
        (
            "[quirks.occupancy_spike]\ndelay_s = 3\n",
            "x.toml: quirks.occupancy_spike.delay_s: must be a [low, high]",
        ),
        (
            "[quirks.spurious_fault_blip]\nstatus = ['preparing']\n",
            "x.toml: quirks.spurious_fault_blip.status: 'preparing' is not one of",
        ),
    ],
)
def test_validation_errors_are_one_line_naming_file_and_field(extra, message):
    with pytest.raises(ProfileError) as info:
        parse_profile(GOOD + extra, "x.toml")
    text = str(info.value)
    line = int(text.split(":")[1])  # file:line: field: reason
    assert 0 < line <= len((GOOD + extra).splitlines())
    assert text.replace(f"x.toml:{line}:", "x.toml:", 1).startswith(message)
    assert "\n" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('vendor = "a"\nmodel = "dc"\nversion = "1"\n', "x.toml: kind: missing"),
        (GOOD.replace('"DC"', '"XX"'), "x.toml:5: kind: must be 'DC' or 'AC'"),
        (GOOD.replace("guns = 1", "guns = 3"), "x.toml:6: guns: must be 1 or 2"),
        (GOOD.replace("guns = 1", 'guns = "two"'), "x.toml:6: guns: must be an integer"),
        ("vendor = ", "x.toml: not valid TOML"),
    ],
)
def test_top_level_errors(text, message):
    with pytest.raises(ProfileError, match="^" + message.replace("(", r"\(").replace("'", ".")):
        parse_profile(text, "x.toml")


def test_user_directory_overrides_and_adds(tmp_path: Path):
    (tmp_path / "mine.toml").write_text(GOOD)
    (tmp_path / "override.toml").write_text(
        'vendor = "generic"\nmodel = "dc"\nversion = "1.0"\nkind = "DC"\nguns = 1\n'
        "[quirks.random_bill_loss]\nrate = 0.5\n"
    )
    names = {p.name for p in list_profiles([tmp_path])}
    assert "acme-dc@9" in names
    assert load_profile("generic-dc@1.0", [tmp_path]).quirks["random_bill_loss"]["rate"] == 0.5
    assert load_profile("generic-dc@1.0").quirks == {}


def test_bad_user_profile_names_its_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD + "[quirks.energy_lost]\nrate = -1\n")
    with pytest.raises(ProfileError, match=r"bad\.toml:8: quirks\.energy_lost\.rate"):
        load_profile("acme-dc@9", [tmp_path])


def test_unknown_profile():
    with pytest.raises(ProfileError, match="nope-dc@1: unknown firmware profile"):
        load_profile("nope-dc@1")
