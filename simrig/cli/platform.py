"""``simrig platform serve``: the reference platform as a real server (issue 3 item 5)."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from simrig.exit_codes import ExitCode

__all__ = ["register"]


def _hostport(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter(f"{text!r} is not HOST:PORT", param_hint=option)
    return host or "127.0.0.1", int(port)


def serve(
    listen: Annotated[str, typer.Option(help="YKC TCP address HOST:PORT (port 0 = any)")] = (
        "127.0.0.1:8767"
    ),
    db: Annotated[
        str, typer.Option(help="SQLite database file, or a postgresql://USER@HOST:PORT/DB URL")
    ] = "platform.sqlite",
    config: Annotated[
        Path | None, typer.Option(help="platform.toml: rules, tariff, piles, accounts")
    ] = None,
    demo: Annotated[bool, typer.Option(help="load the built-in demo dataset")] = False,
    http: Annotated[str, typer.Option(help="HTTP API HOST:PORT; 'off' to disable")] = (
        "127.0.0.1:8768"
    ),
    epoch: Annotated[
        str | None, typer.Option(help="Wall time at start (ISO); default: now. For simrig runs.")
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Clock speed factor (scenario seconds per second)")
    ] = 1.0,
    start_monotonic: Annotated[
        float | None,
        typer.Option(help="CLOCK_MONOTONIC time of now=0 (aligns the clock with a simrig run)"),
    ] = None,
    api_token: Annotated[
        str | None,
        typer.Option(
            "--api-token",
            "--token",
            envvar="SIMRIG_API_TOKEN",
            help="The bearer token every HTTP request needs (default: generated, printed "
            "on stderr).",
        ),
    ] = None,
    no_api_auth: Annotated[
        bool, typer.Option(help="Serve the HTTP API without a token (a lab on loopback only)")
    ] = False,
    max_connections: Annotated[
        int | None,
        typer.Option(min=0, help="Open YKC connections in all (default 16384; 0 = no cap)"),
    ] = None,
    max_bytes_per_s: Annotated[
        int | None, typer.Option(min=0, help="Bytes per connection per second (default 65536)")
    ] = None,
    max_frames_per_s: Annotated[
        int | None, typer.Option(min=0, help="Frames per connection per second (default 200)")
    ] = None,
    max_bytes_before_login: Annotated[
        int | None,
        typer.Option(min=0, help="Bytes a connection may send before its login (default 65536)"),
    ] = None,
    allow_from: Annotated[
        list[str] | None,
        typer.Option(help="Source network (CIDR) allowed to connect; repeat; default: any"),
    ] = None,
    realtime_batch: Annotated[
        int,
        typer.Option(min=1, help="Realtime samples (0x13) per transaction at most (1: one each)"),
    ] = 1000,
    group_commit: Annotated[
        bool,
        typer.Option(
            help="Commit the writes of one event-loop turn together, before any reply is "
            "sent (--no-group-commit: each write alone)"
        ),
    ] = True,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve YKC and HTTP inside TLS: the certificate (PEM)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The TLS private key (PEM)")] = None,
    tls_client_ca: Annotated[
        Path | None,
        typer.Option(help="Require client certificates signed by this CA (PEM) of the piles"),
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option(help="Write the server's log here instead of stderr")
    ] = None,
) -> None:
    """Run the reference platform: YKC over TCP, SQLite storage, HTTP JSON API."""
    import ipaddress
    import logging

    from simrig.adapters.platform_service import TlsFiles, run_platform
    from simrig.adapters.tcp_server import ServerCaps, install_uvloop

    listen_at = _hostport(listen, "--listen")
    http_at = None if http == "off" else _hostport(http, "--http")
    text = None
    if config is not None:
        try:
            text = config.read_text(encoding="utf-8")
        except OSError as err:
            raise typer.BadParameter(str(err), param_hint="--config") from None
    start_at = None
    if epoch is not None:
        try:
            start_at = datetime.fromisoformat(epoch)
        except ValueError:
            raise typer.BadParameter(
                f"{epoch!r} is not an ISO date-time", param_hint="--epoch"
            ) from None
    limits = {
        "max_connections": max_connections,
        "max_bytes_per_s": max_bytes_per_s,
        "max_frames_per_s": max_frames_per_s,
        "max_bytes_before_login": max_bytes_before_login,
    }
    networks = tuple(allow_from or ())
    for net in networks:
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError:
            raise typer.BadParameter(
                f"{net!r} is not a network", param_hint="--allow-from"
            ) from None
    caps = ServerCaps(**{k: v for k, v in limits.items() if v is not None}, allow_from=networks)
    tls = None
    if tls_cert is not None or tls_key is not None or tls_client_ca is not None:
        if tls_cert is None or tls_key is None:
            raise typer.BadParameter("give both --tls-cert and --tls-key", param_hint="--tls-cert")
        ca = None if tls_client_ca is None else str(tls_client_ca)
        tls = TlsFiles(str(tls_cert), str(tls_key), ca)
    logging.basicConfig(
        level=logging.INFO if log_file else logging.WARNING,
        filename=None if log_file is None else str(log_file),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_uvloop()

    def ready(line: str) -> None:
        print(line, flush=True)

    try:
        asyncio.run(
            run_platform(
                listen_at,
                db,
                config_text=text,
                config_source=str(config),
                demo=demo,
                http=http_at,
                ready=ready,
                epoch=start_at,
                speed=speed,
                start_monotonic=start_monotonic,
                api_token=api_token,
                api_auth=not no_api_auth,
                caps=caps,
                realtime_batch=realtime_batch,
                group_commit=group_commit,
                tls=tls,
            )
        )
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        raise typer.Exit(ExitCode.BAD_INPUT) from None


def register(app: typer.Typer) -> None:
    """Add the ``platform`` command group to the ``simrig`` CLI."""
    group = typer.Typer(help="The reference YKC platform (backend).", no_args_is_help=True)
    group.command("serve")(serve)
    app.add_typer(group, name="platform")


if __name__ == "__main__":  # python -m simrig.cli.platform serve ...
    _app = typer.Typer()
    register(_app)
    _app()
