"""The reference platform as a running service: SQLite store, YKC TCP server, HTTP API.

One coroutine wires the pure :class:`~simrig.platform.PlatformCore` to its adapters and
runs until stopped (SIGTERM/SIGINT or an ``asyncio.Event``). ``simrig platform serve``
and the tests start it; the embedded backend starts it as its own process.

The HTTP API needs a bearer token (issue 15 item 4): the given one, or one generated
here and announced on stderr; ``api_auth=False`` opens it (announced as a warning).
Binding it to a non-loopback address is announced as a loud warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simrig.adapters.sql_store import SqlRepository
    from simrig.adapters.tcp_server import ServerCaps

__all__ = ["TlsFiles", "bind_warnings", "is_loopback", "open_repository", "run_platform"]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def is_loopback(host: str) -> bool:
    """``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def run_platform(
    listen: tuple[str, int],
    db: str,
    *,
    config_text: str | None = None,
    config_source: str = "platform.toml",
    demo: bool = False,
    http: tuple[str, int] | None = ("127.0.0.1", 8768),
    ready: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
    epoch: datetime | None = None,
    speed: float = 1.0,
    start_monotonic: float | None = None,
    api_token: str | None = None,
    api_auth: bool = True,
    caps: ServerCaps | None = None,
    announce: Callable[[str], None] = _stderr,
    realtime_batch: int = 1000,
    group_commit: bool = True,
    tls: TlsFiles | None = None,
) -> None:
    """Run the platform until ``stop`` is set (or SIGTERM/SIGINT).

    ``api_token``: the HTTP API's bearer token (None: generated and announced);
    ``api_auth=False``: no token at all. ``announce`` gets the warnings and the token.
    ``realtime_batch``: realtime samples per transaction at most (1: one each);
    ``group_commit``: the writes of one loop turn commit together before any reply
    (:mod:`.sql_transactions`), else each write alone;
    ``tls``: serve YKC and the HTTP API inside TLS."""
    from simrig.adapters.sql_store import KNOWN_RECORDS
    from simrig.adapters.tcp_server import PlatformServer
    from simrig.platform import PlatformCore, PlatformRules, apply_config, load_demo_dataset
    from simrig.platform.config import parse_config

    rules = PlatformRules()
    repo = open_repository(db, realtime_batch, KNOWN_RECORDS)  # the database's one writer
    loop = asyncio.get_running_loop()

    # one transaction per event-loop turn for the realtime samples (0x13)
    def flush() -> None:
        try:
            repo.flush()
        except Exception:  # the store failed: the batch is dropped (never acknowledged)
            logging.getLogger("simrig.platform").exception("realtime batch not stored")

    def flush_soon() -> None:
        loop.call_soon(flush)

    repo.on_batch = flush_soon
    if demo:
        load_demo_dataset(repo)
    if config_text is not None:
        config = parse_config(config_text, source=config_source)
        apply_config(repo, config)
        rules = config.rules
    core = PlatformCore(repo, rules=rules, epoch=epoch or datetime.now())
    store = repo if group_commit else None
    server = PlatformServer(core, speed=speed, t0=start_monotonic, caps=caps, store=store)
    shortfall = _open_files_for(server.caps.max_connections)
    if shortfall:
        announce(shortfall)
    stop = stop or asyncio.Event()
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - not main thread
        pass
    host, port = await server.start(*listen, tls=None if tls is None else tls.context())
    http_task = None
    http_text = "off"
    uv_server = None
    if http is not None:
        import uvicorn

        from simrig.adapters.http_api import create_app

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(http)
        token = _api_token(api_token, api_auth, announce)
        uv_config = uvicorn.Config(
            create_app(server, token),
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=None if tls is None else tls.cert,
            ssl_keyfile=None if tls is None else tls.key,
        )
        uv_server = uvicorn.Server(uv_config)
        http_task = asyncio.create_task(uv_server.serve(sockets=[sock]))
        for _ in range(500):
            if uv_server.started or http_task.done():
                break
            await asyncio.sleep(0.01)
        if http_task.done():
            http_task.result()
        h, p = sock.getsockname()[:2]
        http_text = f"{h}:{p}"
    for warning in bind_warnings(listen[0], None if http is None else http[0]):
        announce(warning)
    ready(f"listening on {host}:{port} http on {http_text}")
    try:
        await stop.wait()
    finally:
        if uv_server is not None and http_task is not None:
            uv_server.should_exit = True
            await asyncio.wait([http_task], timeout=5)
        await server.close()
        repo.close()


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """TLS for YKC and the HTTP API (issue 15: what OCPP's security profiles 2 and 3 do,
    at the transport, since YKC's login carries no credential): the server's certificate
    and key, and optionally the CA whose client certificates the piles must present."""

    cert: str
    key: str
    client_ca: str | None = None

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        if self.client_ca is not None:
            ctx.load_verify_locations(self.client_ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def open_repository(db: str, realtime_batch: int = 1000, known_records: int = 0) -> SqlRepository:
    """The store ``--db`` names: a ``postgresql://`` URL, else an SQLite file
    (``known_records``: sessions and accounts kept in memory, for the one writer)."""
    from simrig.adapters.postgres_store import PostgresRepository, is_postgres_url
    from simrig.adapters.sqlite_store import SqliteRepository

    if is_postgres_url(db):
        return PostgresRepository(db, realtime_batch, known_records)
    return SqliteRepository(db, realtime_batch, known_records)


def bind_warnings(ykc_host: str, http_host: str | None) -> list[str]:
    """The loud warnings for addresses beyond this machine (issue 15 item 4)."""
    out = []
    if http_host is not None and not is_loopback(http_host):
        out.append(
            f"WARNING: the HTTP API listens on {http_host}, beyond this machine: anyone who "
            "reaches it with the token controls the piles; keep the token secret and put "
            "TLS in front"
        )
    if not is_loopback(ykc_host):
        out.append(
            f"WARNING: YKC listens on {ykc_host}: piles are identified by their pile number "
            "only; restrict sources (--allow-from) or terminate TLS in front"
        )
    return out


def _open_files_for(connections: int) -> str:
    """Raise this process's open-file limit to fit ``connections`` (and some files of its
    own) when the hard limit allows; else the warning to print ("" when it fits)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return ""
    needed = connections + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if connections == 0 or soft == resource.RLIM_INFINITY or soft >= needed:
        return ""
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft >= needed:
        return ""
    return (
        f"WARNING: open files are limited to {soft}: fewer than --max-connections "
        f"{connections} piles can connect (raise `ulimit -n`)"
    )


def _api_token(given: str | None, auth: bool, announce: Callable[[str], None]) -> str | None:
    """The bearer token the API needs: ``given``, else a generated one (announced)."""
    if not auth:
        announce("WARNING: the HTTP API needs no token (--no-api-auth): anyone reaching it can "
                 "start sessions, change balances and reboot piles")  # fmt: skip
        return None
    if given:
        return given
    token = secrets.token_urlsafe(24)
    announce(f"HTTP API token (generated; choose one with --api-token): {token}")
    return token
