"""Profiles are validated data (issue 14 item 2): one-line errors with file, line and
field; ``firmware show`` TOML parses back to the same profile; the format doc lists every
primitive and preset."""

from dataclasses import replace
from pathlib import Path

import pytest

from simrig.firmware_models import ProfileError, list_profiles, parse_profile
from simrig.firmware_models.profile_toml import profile_toml
from simrig.firmware_models.quirks import PRESETS, PRIMITIVES

DOC = Path(__file__).resolve().parents[2] / "docs" / "profile-format.md"

HEAD = (
    'vendor = "acme"\nmodel = "dc"\nversion = "9"\nkind = "DC"\n\n[timings]\nbill_retry = "3x30s"\n'
)


@pytest.mark.parametrize(
    ("quirks", "expected"),
    [
        (
            "[quirks.random_bill_los]\nrate = 0.2\n",
            r"x\.toml:8: "
            r"quirks\.random_bill_los: unknown quirk",
        ),
        (
            "[quirks.random_bill_loss]\nrat = 0.2\n",
            r"x\.toml:9: "
            r"quirks\.random_bill_loss\.rat: unknown parameter \(known: rate\)",
        ),
        (
            "[quirks.bill_timing]\nnever = 0.5\nat_stop = 0.7\n",
            r"x\.toml:8: "
            r"quirks\.bill_timing: the mode probabilities sum to 1\.2 > 1",
        ),
        (
            '[quirks.bill_stamps]\n\nend = "unplugged"\n',
            r"x\.toml:10: "
            r"quirks\.bill_stamps\.end: 'unplugged' is not one of charge_end, upload",
        ),
        (
            "[quirks.random_bill_loss]\nrate = 0.2\n\n[quirks.bill_loss]\nrate = 0.1\n",
            r"x\.toml:11: quirks\.bill_loss: sets primitive bill_loss, "
            r"already set by quirks\.random_bill_loss",
        ),
        ("", None),
    ],
)
def test_bad_quirks_are_one_line_errors_with_file_line_and_field(quirks, expected):
    if expected is None:
        assert parse_profile(HEAD + quirks, "x.toml").quirks == {}
        return
    with pytest.raises(ProfileError, match=expected) as info:
        parse_profile(HEAD + quirks, "x.toml")
    assert "\n" not in str(info.value)


def test_timings_errors_name_their_line():
    with pytest.raises(ProfileError, match=r"x\.toml:7: timings\.bill_retry: must be one of"):
        parse_profile(HEAD.replace('"3x30s"', '"often"'), "x.toml")


def test_show_toml_parses_back_to_every_shipped_profile():
    for p in list_profiles():
        again = parse_profile(profile_toml(p), p.source)
        assert again == p, p.name


def test_a_profile_of_primitives_only_parses_and_expands():
    text = HEAD + (
        "[quirks.bill_timing]\nafter_delay = 0.05\nnever = 0.02\ndelay_s = [3600, 7200]\n"
        '[quirks.bill_stamps]\ntrade = "charge_end"\ndrift_s_per_day = -2.0\n'
    )
    p = parse_profile(text, "x.toml")
    assert p.quirks["bill_timing"]["delay_s"] == (3600.0, 7200.0)
    assert parse_profile(profile_toml(p), "y.toml") == replace(p, source="y.toml")


def test_the_format_doc_lists_every_primitive_preset_and_parameter():
    doc = DOC.read_text()
    for name, cls in PRIMITIVES.items():
        assert f"`{name}`" in doc, name
        for key in cls.params:
            assert f"`{key}`" in doc, f"{name}.{key}"
    for name in PRESETS:
        assert f"`{name}`" in doc, name
