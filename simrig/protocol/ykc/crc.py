"""CRC-16/MODBUS of the YKC frame (protocol-ykc §1.4).

Poly 0x8005 reflected, init 0xFFFF, no final xor; check("123456789") = 0x4B37.
It covers bytes [2, 6+N) of a frame (sequence .. body) and is sent low byte first.
Computed by ``anycrc`` (a C implementation), never by hand-written table code.
"""

from __future__ import annotations

import anycrc

_MODEL = anycrc.Model("CRC16-MODBUS")
_calc = _MODEL.calc


def crc16_modbus(data: bytes | bytearray | memoryview) -> int:
    """Return the CRC-16/MODBUS of ``data`` as an int (0..0xFFFF)."""
    return int(_calc(data if type(data) is bytes else bytes(data)))


def crc16_residue_ok(data: bytes) -> bool:
    """True if ``data`` ends with its own CRC-16/MODBUS, low byte first (§1.4): the CRC of
    the whole run is then 0. One pass for the common case of a valid frame."""
    return _calc(data) == 0


def crc_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """The two CRC bytes as they go on the wire: low byte first (§1.4)."""
    value = int(_calc(bytes(data)))
    return bytes((value & 0xFF, value >> 8))
