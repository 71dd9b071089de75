"""The server's caps (issue 15 item 3) and the HTTP API's authentication (item 4), over
real loopback sockets (the server in-process: the caps and the token are its options)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from simrig.adapters.platform_service import bind_warnings, run_platform
from simrig.adapters.tcp_server import ServerCaps
from simrig.protocol.ykc import HeartbeatReply, LoginReply, LoginResult

from .conftest import SocketPile

TOKEN = "caps-and-auth"


class Served:
    """``run_platform`` on free loopback ports with ``caps`` and the API ``token``."""

    def __init__(
        self,
        tmp_path: Path,
        caps: ServerCaps | None = None,
        token: str | None = TOKEN,
        http: str = "127.0.0.1",
    ) -> None:
        self.db = str(tmp_path / "p.sqlite")
        self.caps, self.token, self.http_host = caps, token, http
        self.stop = asyncio.Event()
        self.announced: list[str] = []

    async def __aenter__(self) -> Served:
        ready = asyncio.Event()
        lines: list[str] = []

        def on_ready(line: str) -> None:
            lines.append(line)
            ready.set()

        self.task = asyncio.create_task(
            run_platform(
                ("127.0.0.1", 0),
                self.db,
                demo=True,
                http=(self.http_host, 0),
                ready=on_ready,
                stop=self.stop,
                api_token=self.token,
                caps=self.caps,
                announce=self.announced.append,
            )
        )
        await asyncio.wait_for(ready.wait(), 10)
        words = lines[0].split()
        self.port = int(words[2].rsplit(":", 1)[1])
        self.http = f"http://127.0.0.1:{words[5].rsplit(':', 1)[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def _closed(pile: SocketPile) -> bool:
    try:
        return await pile.closed(5.0)
    except (ConnectionError, OSError):
        return True


async def test_garbage_before_login_is_bounded(tmp_path: Path) -> None:
    async with Served(tmp_path, ServerCaps(max_bytes_before_login=4096)) as srv:
        pile = await SocketPile.connect(srv.port)
        try:
            for _ in range(8):
                await pile.send(b"\x00" * 1024)
        except (ConnectionError, OSError):
            pass
        assert await _closed(pile)
        ok = await SocketPile.connect(srv.port)
        await ok.send(ok.login())
        assert (await ok.expect(LoginReply)).result == LoginResult.OK
        ok.close()


async def test_frames_per_second_cap_closes_a_flooding_pile(tmp_path: Path) -> None:
    async with Served(tmp_path, ServerCaps(max_frames_per_s=50)) as srv:
        pile = await SocketPile.connect(srv.port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        with contextlib.suppress(ConnectionError, OSError):
            await pile.send(b"".join(pile.heartbeat() for _ in range(200)))
        assert await _closed(pile)
        polite = await SocketPile.connect(srv.port, "55031412782305")
        await polite.send(polite.login())
        await polite.expect(LoginReply)
        await polite.send(b"".join(polite.heartbeat() for _ in range(10)))
        await polite.expect(HeartbeatReply)
        polite.close()


async def test_bytes_per_second_cap(tmp_path: Path) -> None:
    async with Served(tmp_path, ServerCaps(max_bytes_per_s=2048)) as srv:
        pile = await SocketPile.connect(srv.port)
        await pile.send(pile.login())
        await pile.expect(LoginReply)
        with contextlib.suppress(ConnectionError, OSError):
            await pile.send(b"\x68\x02" * 4096)
        assert await _closed(pile)


async def test_max_connections_and_source_allow_list(tmp_path: Path) -> None:
    async with Served(tmp_path, ServerCaps(max_connections=2)) as srv:
        first = await SocketPile.connect(srv.port)
        second = await SocketPile.connect(srv.port, "55031412782305")
        third = await SocketPile.connect(srv.port, "10001001000001")
        assert await _closed(third)
        await first.send(first.login())
        assert (await first.expect(LoginReply)).result == LoginResult.OK
        first.close()
        second.close()
    async with Served(tmp_path, ServerCaps(allow_from=("10.0.0.0/8",))) as srv:
        refused = await SocketPile.connect(srv.port)
        assert await _closed(refused)


async def test_every_request_needs_the_bearer_token(tmp_path: Path) -> None:
    async with Served(tmp_path) as srv:
        async with httpx.AsyncClient(base_url=srv.http, timeout=5) as anon:
            for method, path in [("GET", "/bills"), ("GET", "/accounts"), ("GET", "/stats")]:
                assert (await anon.request(method, path)).status_code == 401
            r = await anon.post("/piles/32010200000001/command", json={"frame_hex": "00"})
            assert r.status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await anon.get("/bills", headers=wrong)).status_code == 401
            # the documentation is open, and served from local assets (no CDN)
            docs = await anon.get("/docs")
            assert docs.status_code == 200 and "cdn" not in docs.text.lower()
            asset = docs.text.split('src="', 1)[1].split('"', 1)[0]
            assert asset.startswith("/") and (await anon.get(asset)).status_code == 200
            schema = (await anon.get("/openapi.json")).json()
            assert "HTTPBearer" in schema["components"]["securitySchemes"]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=srv.http, timeout=5, headers=headers) as client:
            assert (await client.get("/bills")).status_code == 200
    assert not [line for line in srv.announced if "WARNING" in line]


async def test_a_token_is_generated_and_announced_when_none_is_given(tmp_path: Path) -> None:
    async with Served(tmp_path, token=None) as srv:
        [line] = [line for line in srv.announced if "token" in line]
        token = line.rsplit(" ", 1)[1]
        async with httpx.AsyncClient(base_url=srv.http, timeout=5) as client:
            assert (await client.get("/piles")).status_code == 401
            ok = await client.get("/piles", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200


def test_a_non_loopback_bind_is_a_loud_warning() -> None:
    assert bind_warnings("127.0.0.1", "localhost") == []
    assert bind_warnings("::1", None) == []
    [http] = bind_warnings("127.0.0.1", "0.0.0.0")
    assert http.startswith("WARNING") and "0.0.0.0" in http
    [ykc] = bind_warnings("192.168.1.10", "127.0.0.1")
    assert ykc.startswith("WARNING") and "--allow-from" in ykc


def test_warnings_are_rate_limited_per_kind_and_the_rest_counted(caplog) -> None:
    import logging

    from simrig.adapters.tcp_server import RateLimitedLog

    log = RateLimitedLog(logging.getLogger("simrig.test.ratelimit"), per_s=5)
    with caplog.at_level(logging.WARNING, logger="simrig.test.ratelimit"):
        for i in range(100):
            log.warning(10.2, "malformed_frame", "bad frame %d", i)
        log.warning(10.9, "cap", "a cap")  # another kind has its own budget
        log.warning(11.0, "malformed_frame", "next second")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        *(f"bad frame {i}" for i in range(5)),
        "a cap",
        "malformed_frame: 95 more lines suppressed",
        "next second",
    ]


def test_the_open_file_limit_is_checked_against_max_connections() -> None:
    from simrig.adapters.platform_service import _open_files_for

    assert _open_files_for(100) == ""
    assert _open_files_for(0) == ""
    warning = _open_files_for(10**9)  # beyond any hard limit of this machine
    assert warning.startswith("WARNING: open files are limited to") and "ulimit" in warning
