"""``simrig decode`` input: hex tokens joined until a frame completes; bad characters refused."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from simrig.cli import app

runner = CliRunner()
LOGIN_REPLY = "680C0000000255031412782305 00DA4C"


def _frames(args: list[str]) -> list[dict]:
    result = runner.invoke(app, ["decode", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_frame_written_in_several_tokens_is_one_frame() -> None:
    assert [f["name"] for f in _frames(LOGIN_REPLY.split())] == ["login_reply"]
    spaced = " ".join(LOGIN_REPLY.replace(" ", "")[i : i + 2] for i in range(0, 32, 2))
    assert [f["name"] for f in _frames(spaced.split())] == ["login_reply"]
    assert [f["name"] for f in _frames(["68:0C:00:00", "0x0002550314127823", "05-00-DA-4C"])] == [
        "login_reply"
    ]


def test_two_frames_across_tokens_are_two_frames() -> None:
    hexed = LOGIN_REPLY.replace(" ", "")
    tokens = [hexed[:10], hexed[10:] + hexed[:6], hexed[6:]]
    assert [f["name"] for f in _frames(tokens)] == ["login_reply", "login_reply"]


def test_a_character_that_is_not_hex_is_refused_with_its_position() -> None:
    result = runner.invoke(app, ["decode", "680C0000000255031412782305", "00DG4C"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: argument 2, character 4: 'G' is not a hex digit (in '00DG4C')"
    )


def test_an_odd_number_of_digits_is_refused() -> None:
    result = runner.invoke(app, ["decode", "680C0000000255031412782305", "00DA4"])
    assert result.exit_code == 2
    assert "odd number of hex digits (31)" in result.output


def test_an_incomplete_frame_is_an_error_not_silence() -> None:
    result = runner.invoke(app, ["decode", "--json", "680C00000002550314127823"])
    assert result.exit_code == 2
    assert "error" in json.loads(result.stdout.splitlines()[0])


def test_a_stray_character_in_a_hex_file_is_refused_with_line_and_column(tmp_path) -> None:
    hex_file = tmp_path / "frames.txt"
    hex_file.write_text(f"{LOGIN_REPLY}\n680C00000002550314127823Z5 00DA4C\n")
    result = runner.invoke(app, ["decode", "--file", str(hex_file)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {hex_file}:2: character 25: 'Z' is not a hex digit "
        "(in '680C00000002550314127823Z5 00DA4C')"
    )
