"""The declarative HTTP template: loading (one-line errors naming file, line, field),
placeholder filling, and refusals of operations the file does not describe."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

import simrig.control.template as template_module
from simrig.control import ControlError, ControlUnreachable, UnsupportedOperation, load_control
from simrig.control.template import (
    HttpTemplateControl,
    TemplateError,
    json_path,
    load_template,
    parse_template,
)

REFERENCE = Path(__file__).with_name("reference_platform.toml")
ENV = {"SIMRIG_API": "http://127.0.0.1:9", "SIMRIG_API_TOKEN": "s3cret"}

GOOD = """\
[backend]
base_url = "http://backend.test/api"
headers = { Authorization = "Bearer ${env:TOKEN}" }

[app_start]
method = "POST"
url = "/piles/${pile}/guns/${gun}/start"
body = { user = "${account}", kwh = "${energy_kwh}", yuan = "${amount_yuan}", note = "gun ${gun}" }
order_id = "data.orders.0.id"
status = [201]

[app_stop]
method = "DELETE"
url = "/orders/${order_id}"
query = { reason = "app", price = "$$5" }
"""


def test_the_shipped_reference_template_loads():
    template = parse_template(REFERENCE.read_text(), source=str(REFERENCE), env=ENV)
    assert template.base_url == "http://127.0.0.1:9"
    assert template.headers == {"Authorization": "Bearer s3cret"}
    assert len(template.operations) == 10


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[app_start]\nurl = "/s/${gunn}"\n', 2, "app_start.url: unknown placeholder ${gunn}"),
        ('[app_start]\nurl = "http://x/s"\nmethod = "FETCH"\n', 3, "app_start.method: expected"),
        ('[app_strat]\nurl = "http://x/s"\n', 1, "app_strat: unknown operation"),
        ('[app_stop]\nurl = "http://x/${order}"\n', 2, "app_stop.url: unknown placeholder"),
        (
            '[backend]\nbase_url = "http://x"\n[app_start]\nurl = "/s"\n'
            'body = { pile = "${pile}", gun = "${ gun}" }\n',
            5,
            "app_start.body.gun: bad placeholder ${ gun}",
        ),
        (
            '[backend]\nheaders = { Authorization = "Bearer ${env:NO_SUCH_VAR_X}" }\n',
            2,
            "backend.headers.Authorization: environment variable NO_SUCH_VAR_X is not set",
        ),
        ('[app_start]\nurl = "/relative"\n', 2, "app_start.url: a relative URL needs [backend]"),
        ('[app_stop]\nurl = "http://x/s"\norder_id = "id"\n', 3, "app_stop.order_id: only"),
        ('[app_start]\nurl = "http://x/s"\nstatus = ["ok"]\n', 3, "app_start.status: expected"),
        ('[app_start]\nurl = "http://x/s"\nretries = 3\n', 3, "app_start.retries: unknown key"),
        ("[app_start]\nmethod = 'POST'\n", 1, "app_start.url: missing"),
        ('[set_tariff]\nurl = "http://x/t"\nbody = "tariff"\n', 3, "set_tariff.body: expected"),
    ],
)
def test_a_broken_template_is_one_line_naming_file_line_and_field(text, line, message):
    with pytest.raises(TemplateError) as info:
        parse_template(text, source="control.toml", env={})
    error = str(info.value)
    assert "\n" not in error
    assert error.startswith(f"control.toml:{line}: "), error
    assert message in error


def test_toml_syntax_errors_and_missing_files_are_one_line(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[app_start\nurl = 1\n")
    with pytest.raises(TemplateError, match=r"broken\.toml: TOML syntax: .*line 1") as info:
        load_template(broken)
    assert "\n" not in str(info.value)
    with pytest.raises(TemplateError, match=r"missing\.toml: No such file"):
        load_control(str(tmp_path / "missing.toml"))


class Recorder:
    """An httpx transport that records requests and answers like a scripted backend."""

    def __init__(self, status: int = 201, reply: object = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status
        self.reply = {"data": {"orders": [{"id": "ORD/7"}]}} if reply is None else reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.reply)


def _control(recorder: Recorder, text: str = GOOD) -> HttpTemplateControl:
    template = parse_template(text, source="control.toml", env={"TOKEN": "t$k"})
    client = httpx.Client(
        base_url=template.base_url,
        headers=template.headers,
        transport=httpx.MockTransport(recorder),
    )
    return HttpTemplateControl(template, client)


def test_placeholders_keep_types_drop_missing_targets_and_quote_urls():
    recorder = Recorder()
    control = _control(recorder)
    order = control.app_start("44030400030023", 2, "user/1", 0.0, energy_target=12.5)
    assert order == "ORD/7"
    start = recorder.requests[0]
    assert start.method == "POST"
    assert start.url.path == "/api/piles/44030400030023/guns/2/start"
    assert start.headers["authorization"] == "Bearer t$k"
    # an exact placeholder keeps its JSON type; a target not given drops its key
    assert json.loads(start.content) == {"user": "user/1", "kwh": 12.5, "note": "gun 2"}
    control.app_stop("44030400030023", 2, 1.0)  # 201 is one of the default codes
    stop = recorder.requests[1]
    assert stop.method == "DELETE"
    assert stop.url.raw_path.startswith(b"/api/orders/ORD%2F7?")  # values are URL-quoted
    assert stop.url.params["reason"] == "app" and stop.url.params["price"] == "$5"


def test_an_unexpected_status_is_one_line_naming_file_operation_and_request():
    control = _control(Recorder(status=409, reply={"detail": "pile\noffline"}))
    with pytest.raises(ControlError) as info:
        control.app_start("44030400030023", 1, "u", 0.0)
    assert str(info.value) == (
        "control.toml: app_start: POST /piles/44030400030023/guns/1/start → 409 "
        '(expected 201): {"detail":"pile\\noffline"}'
    )


def test_the_order_id_path_must_be_in_the_reply():
    control = _control(Recorder(reply={"data": {"orders": []}}))
    with pytest.raises(ControlError, match=r"app_start: the reply has no data\.orders\.0\.id"):
        control.app_start("44030400030023", 1, "u", 0.0)


def test_json_path_walks_tables_and_arrays():
    assert json_path({"a": [{"b": 1}, {"b": 2}]}, "a.1.b") == 2
    assert json_path({"a": [{"b": 1}]}, "a.-1.b") == 1
    with pytest.raises(KeyError):
        json_path({"a": [1]}, "a.3")


def test_an_operation_the_template_lacks_is_refused_naming_it_and_the_file():
    control = _control(Recorder())
    assert control.supports("app_start") and not control.supports("top_up")
    with pytest.raises(UnsupportedOperation) as info:
        control.top_up("u", 10.0, 0.0)
    assert str(info.value) == (
        "top_up: not offered by template control.toml (it has no [top_up] table)"
    )


def test_entry_points_are_loaded_and_checked():
    control = load_control("tests.control.plugins:recording_control", "tcp://127.0.0.1:1")
    assert control.supports("app_start") and not control.supports("top_up")
    assert control.backend == "tcp://127.0.0.1:1"  # type: ignore[attr-defined]
    with pytest.raises(ControlError, match=r"--backend-control no\.such:thing: No module"):
        load_control("no.such:thing")
    with pytest.raises(ControlError, match="returned str, not a BackendControl"):
        load_control("tests.control.plugins:not_a_control")
    with pytest.raises(ControlError, match=r"expected FILE\.toml or MODULE:CALLABLE"):
        load_control("nonsense")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Created(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.dumps({"data": {"orders": [{"id": "ORD/8"}]}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_backend_still_starting_is_waited_for_over_a_real_socket():
    """A backend launched just before the rig refuses connections until it binds: the
    request is retried (a refused connect reached nothing) and goes through once."""
    port = _free_port()
    text = GOOD.replace("http://backend.test/api", f"http://127.0.0.1:{port}/api")
    control = HttpTemplateControl(parse_template(text, env={"TOKEN": "t"}))
    servers: list[http.server.HTTPServer] = []

    def start_late() -> None:
        time.sleep(1.0)
        server = http.server.HTTPServer(("127.0.0.1", port), _Created)
        servers.append(server)
        server.serve_forever(poll_interval=0.05)

    threading.Thread(target=start_late, daemon=True).start()
    started = time.monotonic()
    try:
        assert control.app_start("44030400030023", 1, "u", 0.0) == "ORD/8"
        assert time.monotonic() - started >= 0.9  # it did wait for the late server
    finally:
        while not servers:
            time.sleep(0.05)
        servers[0].shutdown()
        servers[0].server_close()


def test_a_backend_that_never_listens_is_unreachable_in_one_line(monkeypatch):
    monkeypatch.setattr(template_module, "CONNECT_WAIT_S", 0.5)
    port = _free_port()
    text = GOOD.replace("http://backend.test/api", f"http://127.0.0.1:{port}/api")
    control = HttpTemplateControl(parse_template(text, env={"TOKEN": "t"}))
    with pytest.raises(ControlUnreachable) as info:
        control.app_start("44030400030023", 1, "u", 0.0)
    message = str(info.value)
    assert message.startswith(
        "control.toml: app_start: POST /piles/44030400030023/guns/1/start: "
        f"backend http://127.0.0.1:{port}/api/ unreachable for 0.5 s"
    ), message
    assert "\n" not in message
