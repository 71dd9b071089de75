"""A write after a serial line closed: dropped after our close, an OSError after a loss."""

from __future__ import annotations

import pytest
import serial

from simrig.adapters.serial_link import _SerialTransport


def test_bytes_in_flight_after_close_are_dropped() -> None:
    port = serial.serial_for_url("loop://", timeout=0.01)
    transport = _SerialTransport(port)
    transport.close()  # a run ending (Ctrl-C): the reader thread closes the port next
    port.close()
    transport.write(b"\x68\x0c")  # no exception: the link is gone on purpose


def test_a_write_to_a_line_lost_under_us_is_an_oserror() -> None:
    port = serial.serial_for_url("loop://", timeout=0.01)
    transport = _SerialTransport(port)
    port.close()  # the reader thread closed it: the line was lost
    with pytest.raises(OSError, match="closed"):
        transport.write(b"\x68\x0c")
