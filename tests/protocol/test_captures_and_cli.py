"""The sample captures and the ``simrig decode`` command."""

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from simrig.cli import app

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import make_captures  # noqa: E402

runner = CliRunner()


def test_captures_file_is_what_the_encoder_builds():
    assert (ROOT / "captures" / "ykc_samples.hex").read_text() == make_captures.render()


def test_decode_file_json_one_object_per_frame():
    result = runner.invoke(
        app, ["decode", "--json", "--file", str(ROOT / "captures/ykc_samples.hex")]
    )
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["name"] for o in objects][:3] == ["login", "login_reply", "model_verify"]
    record = next(o for o in objects if o["type"] == 0x3B)
    assert record["fields"]["pile_no"] == "32010200000001"
    assert record["fields"]["gun"] == 1
    assert record["fields"]["serial"] == "32010200000001012001061803423060"
    assert record["fields"]["total_amount"] == 22.5
    assert record["fields"]["start_time"] == "2020-01-06T18:03:42.000"
    assert record["crc_ok"] is True and record["deviations"] == []


def test_decode_login_reply_vector():
    result = runner.invoke(
        app, ["decode", "--json", "68 0C 00 00 00 02 55 03 14 12 78 23 05 00 DA 4C"]
    )
    assert json.loads(result.output) == {
        "type": 2,
        "name": "login_reply",
        "seq": "0000",
        "crc_ok": True,
        "deviations": [],
        "fields": {"pile_no": "55031412782305", "result": "ok"},
    }


def test_decode_bad_frame_gives_error_object_and_exit_2_bad_input():
    result = runner.invoke(app, ["decode", "--json", "680C000000025503141278230500DA4D"])
    assert result.exit_code == 2
    assert "bad_crc" in json.loads(result.output)["error"]


def test_decode_tolerant_reports_swapped_crc_as_deviation():
    result = runner.invoke(
        app, ["decode", "--json", "--tolerant", "680C0000000255031412782305004CDA"]
    )
    assert result.exit_code == 0
    assert json.loads(result.output)["deviations"] == ["crc_swapped"]


def test_decode_raw_byte_stream_file(tmp_path):
    frames = bytes.fromhex((ROOT / "captures/ykc_samples.hex").read_text().replace("\n", " "))
    raw = tmp_path / "stream.bin"
    raw.write_bytes(b"\x00\xff" + frames)
    result = runner.invoke(app, ["decode", "--json", "--file", str(raw)])
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines[0]["error"].startswith("garbage")
    assert len(lines) == 12 and result.exit_code == 2


def test_decode_missing_file_is_one_line_error():
    result = runner.invoke(app, ["decode", "--file", "/nonexistent/x.hex"])
    assert result.exit_code == 2 and "no such file" in result.output
