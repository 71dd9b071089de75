"""The billing models a backend really pushed to each pile (0x0A reply, 0x58 push; §5).

Decoded from the captured downlink bytes, so the oracle prices a fair bill with what the
backend told the pile — not with what the scenario assumed the backend would say. A model
whose fields are out of range (loss ratio above 100 %, a period byte outside 0–3, a model
number that is not BCD) is kept with its ``problems`` and never used for a price: it is a
backend deviation (:mod:`simrig.oracle.deviations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from simrig.capture.record import Chunk
from simrig.domain import Tariff, rate_from_yuan
from simrig.domain.tariff import Band, BandRate, TariffError
from simrig.oracle.device_view import decode_chunks
from simrig.protocol.ykc import ModelReply, SetModel

__all__ = ["MODEL_FRAMES", "PushedModel", "model_in_force", "pushed_models", "same_prices"]

MODEL_FRAMES = frozenset({ModelReply.TYPE, SetModel.TYPE})


@dataclass(frozen=True, slots=True)
class PushedModel:
    """One 0x0A/0x58 a pile received: the tariff it carries, or why it is unusable."""

    pile_no: str
    at: datetime
    frame_type: int
    tariff: Tariff | None
    problems: tuple[str, ...]
    frame_hex: str


def model_problems(msg: ModelReply, deviations: Sequence[str] = ()) -> list[str]:
    """Fields of a 0x0A/0x58 body outside §5 (and the decoder's tolerated deviations)."""
    problems = [str(d) for d in deviations]
    if not 0 <= msg.loss_ratio <= 100:
        problems.append(f"loss ratio {msg.loss_ratio} (§5 item 11: a percent, S1 sends 0)")
    bad = [k for k, p in enumerate(msg.periods) if p not in (0, 1, 2, 3)]
    if bad:
        problems.append(
            f"period byte 0x{msg.periods[bad[0]]:02X} at slot {bad[0]} "
            f"(§5: 0 sharp, 1 peak, 2 flat, 3 valley; {len(bad)} slot(s))"
        )
    return problems


def tariff_of(msg: ModelReply) -> Tariff:
    """The :class:`Tariff` a 0x0A/0x58 body describes (raises TariffError if invalid)."""
    rates = tuple(
        BandRate(
            rate_from_yuan(getattr(msg, f"{b}_rate")), rate_from_yuan(getattr(msg, f"{b}_service"))
        )
        for b in ("sharp", "peak", "flat", "valley")
    )
    if len(msg.periods) != 48 or any(p not in (0, 1, 2, 3) for p in msg.periods):
        raise TariffError("periods: need 48 bands 0-3")
    tariff = Tariff(
        model_no=msg.model_no,
        rates=(rates[0], rates[1], rates[2], rates[3]),
        periods=tuple(Band(p) for p in msg.periods),
        loss_ratio_pct=msg.loss_ratio,
    )
    tariff.validate()
    return tariff


def pushed_models(chunks: Iterable[Chunk]) -> dict[str, list[PushedModel]]:
    """Per pile, every billing model the backend sent down, in order of arrival."""
    out: dict[str, list[PushedModel]] = {}
    down = (c for c in chunks if c.direction == "down")
    for chunk, frame in decode_chunks(down, MODEL_FRAMES):
        msg = frame.message
        assert isinstance(msg, ModelReply)
        problems = model_problems(msg, frame.deviations)
        tariff = None
        if not problems:
            try:
                tariff = tariff_of(msg)
            except (TariffError, ValueError) as exc:
                problems.append(str(exc))
        out.setdefault(chunk.pile_no, []).append(
            PushedModel(
                chunk.pile_no, chunk.at, frame.type, tariff, tuple(problems), frame.raw.hex()
            )
        )
    return out


def model_in_force(
    models: Sequence[PushedModel], at: datetime
) -> tuple[PushedModel | None, PushedModel | None]:
    """``(valid, rejected)``: the last usable model received by ``at``, and an unusable one
    received after it (but by ``at``) that a pile following the spec would not apply."""
    valid = rejected = None
    for model in models:
        if model.at > at:
            break
        if model.tariff is not None:
            valid, rejected = model, None
        else:
            rejected = model
    return valid, rejected


def same_prices(a: Tariff, b: Tariff) -> bool:
    """Equal rates, half-hour bands and loss ratio (the model number does not price)."""
    return (
        tuple(a.rates) == tuple(b.rates)
        and tuple(a.periods) == tuple(b.periods)
        and a.loss_ratio_pct == b.loss_ratio_pct
    )
