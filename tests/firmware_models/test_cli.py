import typer
from typer.testing import CliRunner

from simrig.cli.firmware import register

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """root"""

    register(app)
    return app


def test_list_shows_every_profile_with_quirks():
    result = runner.invoke(_app(), ["firmware", "list"])
    assert result.exit_code == 0, result.output
    for name in ("sinexcel-dc@2090104", "juneng-dc@1.0.0", "xundao-ac@touch-1", "generic-ac@1.0"):
        assert name in result.output
    assert "random_bill_loss" in result.output
    assert "reboot_plugged_loses_bill" in result.output


def test_show_prints_the_profile_as_toml():
    result = runner.invoke(_app(), ["firmware", "show", "sinexcel-dc@2090104"])
    assert result.exit_code == 0, result.output
    for text in (
        'bill_retry = "3x30s"',
        "[quirks.random_bill_loss]",
        "rate = 0.11",
        "zshy_case#23",
        "primitives bill_loss",
        "remote_upgrade = true",
    ):
        assert text in result.output
    from simrig.firmware_models import load_profile, parse_profile

    again = parse_profile(result.output, "shown.toml")
    assert again.quirks == load_profile("sinexcel-dc@2090104").quirks


def test_show_unknown_profile_is_a_one_line_error():
    result = runner.invoke(_app(), ["firmware", "show", "nope-dc@1"])
    assert result.exit_code == 2
    assert "unknown firmware profile" in result.output
