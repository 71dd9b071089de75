"""Pile links over a serial line (pyserial): the pile behind a DTU / 4G modem.

YKC is often carried over a serial line to a DTU that holds the TCP connection
(protocol-ykc intro). Each pile gets its own port, named by a pyserial URL:
``/dev/ttyUSB0``, ``rfc2217://host:port`` or ``socket://127.0.0.1:8767`` (a raw TCP
socket through pyserial — what the tests use against the reference platform).
A reader thread per port hands bytes to the event loop; writes happen on the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import serial

from .realtime import Opener, Transport

READ_TIMEOUT_S = 0.05


class _SerialTransport:
    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port
        self.closed = threading.Event()

    def write(self, data: bytes) -> None:
        """Write on the loop; after :meth:`close` (a run ending, Ctrl-C) bytes still
        delayed by the link model are dropped. A port the reader thread closed (the line
        was lost) is an OSError, as a lost socket is (pyserial's socket:// raises
        TypeError when written after its close)."""
        if self.closed.is_set():
            return
        if not self.port.is_open:
            raise OSError("serial port closed (link lost)")
        try:
            self.port.write(data)
        except (serial.SerialException, TypeError) as exc:
            raise OSError(str(exc) or "serial port closed") from None

    def close(self) -> None:
        self.closed.set()


def serial_opener(urls: dict[str, str], baudrate: int = 115200) -> Opener:
    """An opener giving each pile the serial port ``urls[pile_no]``."""

    async def open_(
        pile_no: str, on_data: Callable[[bytes], None], on_lost: Callable[[], None]
    ) -> Transport:
        url = urls.get(pile_no)
        if url is None:
            raise OSError(f"no serial port for pile {pile_no}")
        loop = asyncio.get_running_loop()
        try:
            port = await loop.run_in_executor(
                None,
                lambda: serial.serial_for_url(url, baudrate=baudrate, timeout=READ_TIMEOUT_S),
            )
        except (serial.SerialException, ValueError) as exc:
            raise OSError(f"{url}: {exc}") from None
        transport = _SerialTransport(port)

        def reader() -> None:
            try:
                while not transport.closed.is_set():
                    data = port.read(1)  # returns at the first byte (or the timeout)
                    if data and port.in_waiting:
                        data += port.read(port.in_waiting)
                    if data and not transport.closed.is_set():
                        loop.call_soon_threadsafe(on_data, data)
            except (serial.SerialException, OSError):
                if not transport.closed.is_set():
                    loop.call_soon_threadsafe(on_lost)
            finally:
                port.close()

        threading.Thread(target=reader, name=f"serial-{pile_no}", daemon=True).start()
        return transport

    return open_


def parse_serial_backend(backend: str, piles: list[str]) -> dict[str, str]:
    """``serial:URL[,URL...]`` → one pyserial URL per pile, in the scenario's pile order."""
    urls = [u for u in backend.removeprefix("serial:").split(",") if u]
    if len(urls) != len(piles):
        raise ValueError(
            f"{backend}: {len(piles)} pile(s) need {len(piles)} serial port(s), got {len(urls)}"
        )
    return dict(zip(piles, urls, strict=True))
