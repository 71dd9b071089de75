"""Build ``captures/`` with simrig's own encoder and rig (deterministic, byte for byte).

- ``ykc_samples.hex``: a card session's frames, one per line;
- ``zpd_case_12.pcapng`` + ``zpd_case_12.jsonl``: the capture of the library incident
  zpd_case#12 (the link drops mid-charge, the pile reconnects and uploads its bill),
  as ``simrig run zpd_case#12`` writes it: open it in Wireshark.

``tests/capture/test_committed_captures.py`` rebuilds them and compares the bytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from simrig.protocol.ykc import (
    CardAuthReply,
    CardStart,
    Carrier,
    Confirm,
    GunStatus,
    Heartbeat,
    Login,
    LoginReply,
    Message,
    ModelReply,
    ModelVerify,
    NetworkType,
    PileType,
    RealtimeData,
    RecordAck,
    RemoteStop,
    StartMode,
    StopReason,
    TransactionRecord,
    TransactionSource,
    TriState,
    encode_frame,
)

PILE = "32010200000001"
SERIAL = "32010200000001012001061803423060"
CAPTURES = Path(__file__).resolve().parent.parent / "captures"
OUT = CAPTURES / "ykc_samples.hex"
#: library incidents whose run capture is committed: scenario → file stem
INCIDENTS = {"zpd_case#12": "zpd_case_12"}


def samples() -> list[tuple[Message, int]]:
    """A card session on a DC pile, pile and platform frames in wire order."""
    periods = (
        (3,) * 14 + (2,) * 6 + (1,) * 4 + (0,) * 2 + (2,) * 10 + (1,) * 6 + (2,) * 4 + (3,) * 2
    )
    return [
        (
            Login(
                pile_no=PILE,
                pile_type=PileType.DC,
                gun_count=2,
                protocol_version=1.6,
                firmware_version="2090404",
                network_type=NetworkType.SIM,
                sim="89860412345678901234",
                carrier=Carrier.CHINA_MOBILE,
            ),
            0,
        ),
        (LoginReply(pile_no=PILE), 0),
        (ModelVerify(pile_no=PILE, model_no="0000"), 1),
        (
            ModelReply(
                pile_no=PILE,
                model_no="0100",
                sharp_rate=1.2,
                sharp_service=0.8,
                peak_rate=1.0,
                peak_service=0.8,
                flat_rate=0.7,
                flat_service=0.8,
                valley_rate=0.35,
                valley_service=0.8,
                periods=periods,
            ),
            2,
        ),
        (Heartbeat(pile_no=PILE, gun=1), 3),
        (CardStart(pile_no=PILE, gun=1, start_mode=StartMode.CARD, card="00000000D14B0A54"), 4),
        (
            CardAuthReply(
                serial=SERIAL,
                pile_no=PILE,
                gun=1,
                logical_card="1000000573",
                balance=100.0,
                result=Confirm.OK,
            ),
            4,
        ),
        (
            RealtimeData(
                serial=SERIAL,
                pile_no=PILE,
                gun=1,
                status=GunStatus.CHARGING,
                gun_returned=TriState.NO,
                plugged=True,
                voltage=402.5,
                current=120.3,
                gun_temperature=35,
                soc=57,
                battery_max_temperature=31,
                charge_minutes=22,
                remaining_minutes=41,
                energy=12.5,
                loss_energy=12.5,
                amount=22.5,
            ),
            5,
        ),
        (RemoteStop(pile_no=PILE, gun=1), 6),
        (
            TransactionRecord(
                serial=SERIAL,
                pile_no=PILE,
                gun=1,
                start_time=datetime(2020, 1, 6, 18, 3, 42),
                end_time=datetime(2020, 1, 6, 18, 45, 3),
                peak_price=1.8,
                peak_energy=12.5,
                peak_loss_energy=12.5,
                peak_amount=22.5,
                meter_start=12345.6789,
                meter_end=12358.1789,
                total_energy=12.5,
                total_loss_energy=12.5,
                total_amount=22.5,
                vin="LSVAU2180N2183294",
                source=TransactionSource.CARD,
                trade_time=datetime(2020, 1, 6, 18, 45, 9),
                stop_reason=StopReason.MANUAL_STOP,
                physical_card="00000000D14B0A54",
            ),
            7,
        ),
        (RecordAck(serial=SERIAL), 7),
    ]


def render() -> str:
    return "".join(encode_frame(m, seq).hex(" ").upper() + "\n" for m, seq in samples())


def incident_captures(folder: Path) -> list[Path]:
    """Run each of :data:`INCIDENTS` and write its ``.pcapng`` and ``.jsonl`` into ``folder``."""
    from simrig.report.folder import write_capture_files
    from simrig.scenarios import load_scenario
    from simrig.sim.runner import run_scenario

    paths: list[Path] = []
    for name, stem in INCIDENTS.items():
        result = run_scenario(load_scenario(name))
        paths += write_capture_files(result, folder, "all", stem=stem)
    return paths


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT}")
    for path in incident_captures(CAPTURES):
        print(f"wrote {path}")
