"""The proxy's fault file: validation with one-line file:line:field errors, per-pile
selection, and the same Link a scenario's network section builds (issue 12 item 4)."""

from __future__ import annotations

import random

import pytest

from simrig.protocol.ykc import Heartbeat, RecordAck, encode_frame
from simrig.scenarios.fault_file import FaultFileError, load_fault_file, parse_fault_file

A, B = "55031412782305", "44030400030012"
GOOD = f"""
seed = 9
[link]
loss = 0.3
corrupt = 0.1

[[outage]]
start = "30s"
end = "2m"
pile = "{A}"

[[event_outage]]
on = "0x13"
after = "60s"
duration = "14m"

[[rule]]
direction = "down"
type = "record_ack"
action = "drop"
times = 3
pile = "{B}"
"""


def test_a_pile_gets_the_entries_for_every_pile_and_its_own() -> None:
    faults = parse_fault_file(GOOD)
    a, b = faults.network_for(A), faults.network_for(B)
    assert a.outages == ((30.0, 120.0),) and b.outages == ()
    assert a.frame_rules == () and [r.type for r in b.frame_rules] == [0x40]
    assert [e.after for e in a.event_outages] == [e.after for e in b.event_outages] == [60.0]
    assert a.loss == 0.3 and a.latency_ms == 0.0  # the proxy adds no latency by default


def test_the_same_seed_gives_the_same_faults_byte_for_byte() -> None:
    faults = parse_fault_file(GOOD)
    beat = encode_frame(Heartbeat(pile_no=B, gun=1), 1)
    ack = encode_frame(RecordAck(), 2)

    def deliveries() -> list[object]:
        net = faults.network_for(B)
        link = net.link(random.Random(f"{faults.seed}:up"), random.Random(f"{faults.seed}:down"))
        return [link.up.send(beat, float(t)) + link.down.send(ack, t + 0.5) for t in range(200)]

    first = deliveries()
    assert first == deliveries()
    lost = sum(1 for d in first if len(d) < 2)
    assert 0 < lost < 200  # loss, the rule and corruption all acted


RULE = '[[rule]]\ndirection = "down"\n'


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (RULE + 'type = "0x40"\naction = "hold"\n', "f.toml:4: rule[0].action"),
        (RULE + 'type = "0x77"\naction = "drop"\n', "f.toml:3: rule[0].type"),
        ('[[outage]]\nstart = "2m"\nend = "1m"\n', "f.toml:1: outage[0]: "),
        ('[[outage]]\nstart = "soon"\nend = "1m"\n', "f.toml:2: outage[0].start"),
        ("[link]\nloss = 2\n", "f.toml:2: link.loss"),
        ('[[event_outage]]\non = "heartbeat"\nduration = "1m"\n', "f.toml:1: event_outage[0]"),
        (RULE + 'type = 3\naction = "drop"\npile = "12"\n', "f.toml:5: rule[0].pile"),
        ("colour = 1\n", "f.toml:1: colour"),
        ("[[rule]\n", "f.toml: TOML syntax"),
    ],
)
def test_errors_are_one_line_naming_file_line_and_field(text: str, where: str) -> None:
    with pytest.raises(FaultFileError) as err:
        parse_fault_file(text, source="f.toml")
    message = str(err.value)
    assert "\n" not in message and message.startswith(where), message


def test_a_missing_file_is_one_line(tmp_path) -> None:
    with pytest.raises(FaultFileError, match=r"nope.toml: cannot read"):
        load_fault_file(tmp_path / "nope.toml")
