"""Frame heads on the wire: type and sequence of each YKC frame, without decoding bodies.

A load run times every request and reply, so it reads only the header
(``68 | L | seq(2) | enc | type``, protocol §1.2-§1.3); the piles and the sampled
deviation analysis decode the frames themselves. Bytes outside any frame are skipped to
the next 0x68 and counted.
"""

from __future__ import annotations

__all__ = ["KIND_OF_REQUEST", "REMOTE_KINDS", "REPLY_TO", "FrameHead", "heads"]

START = 0x68
#: the length byte of a frame is at least this (seq 2, enc 1, type 1)
MIN_LENGTH = 4

#: (type, seq, offset of the frame in the bytes, its length in bytes)
FrameHead = tuple[int, int, int, int]

#: request frame type (pile → backend) → the reply kind it is timed as (§2)
KIND_OF_REQUEST: dict[int, str] = {
    0x01: "login",
    0x03: "heartbeat",
    0x05: "model_verify",
    0x09: "model_request",
    0x31: "card_auth",
    0x3B: "bill_ack",
    0x3D: "bill_ack",
    0xA1: "card_auth",
}
#: reply frame type (backend → pile) → the request type it answers (0x40 answers 0x3B/0x3D)
REPLY_TO: dict[int, int] = {0x02: 0x01, 0x04: 0x03, 0x06: 0x05, 0x0A: 0x09, 0x32: 0x31,
                            0x40: 0x3B, 0xA2: 0xA1}  # fmt: skip
#: backend → pile commands timed from the app call that caused them (§4.9, §4.11)
REMOTE_KINDS: dict[int, str] = {0x34: "remote_start", 0x36: "remote_stop", 0xA4: "remote_start"}


def heads(data: bytes) -> tuple[list[FrameHead], int, int]:
    """The complete frames in ``data``: their heads, the offset where an incomplete frame
    starts (``len(data)`` if none) and the bytes skipped outside any frame."""
    out: list[FrameHead] = []
    pos, end, skipped = 0, len(data), 0
    while pos < end:
        if data[pos] != START:
            nxt = data.find(START, pos)
            nxt = end if nxt < 0 else nxt
            skipped += nxt - pos
            pos = nxt
            continue
        if end - pos < 6:
            break
        length = data[pos + 1]
        if length < MIN_LENGTH:
            skipped += 1
            pos += 1
            continue
        total = length + 4
        if end - pos < total:
            break
        out.append((data[pos + 5], data[pos + 2] << 8 | data[pos + 3], pos, total))
        pos += total
    return out, pos, skipped
