"""Starting the platform server as a child process (shared by embedded-tcp, tests, benchmarks)."""

import pytest

from simrig.adapters.platform_process import PlatformStartError, parse_ready_line, start_platform


def test_ready_line_gives_both_ports():
    assert parse_ready_line("listening on 127.0.0.1:4001 http on 127.0.0.1:4002\n") == (4001, 4002)
    assert parse_ready_line("listening on 127.0.0.1:4001 http on off") == (4001, None)
    with pytest.raises(PlatformStartError, match="unexpected ready line"):
        parse_ready_line("error: boom")


def test_a_server_that_cannot_start_is_a_one_line_error(tmp_path):
    with pytest.raises(PlatformStartError, match="did not start") as info:
        start_platform(["--listen", "nonsense", "--db", str(tmp_path / "x.sqlite")])
    assert "\n" not in str(info.value)


def test_started_server_stops_cleanly(tmp_path):
    server = start_platform(
        ["--listen", "127.0.0.1:0", "--http", "off", "--db", str(tmp_path / "p.sqlite")]
    )
    assert server.port > 0 and server.http_port is None
    server.stop()
    assert server.proc.returncode is not None
