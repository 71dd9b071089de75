"""Adapters: the only code with I/O or clocks (design.md).

* :mod:`.sqlite_store` -- the platform's SQLite repository (WAL, millisecond timestamps);
* :mod:`.tcp_server` -- the asyncio YKC server wrapping :class:`simrig.platform.PlatformCore`;
* :mod:`.http_api` -- the platform's HTTP JSON API (FastAPI).
"""
