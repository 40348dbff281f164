"""`thinkroute serve` refuses an invalid policy with the same messages as `thinkroute policy check`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from router.cli import app

runner = CliRunner()


def test_serve_refuses_an_invalid_policy_with_the_check_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "backends: {local: {type: local}}\n"
        "strategies: {single: {type: single_pass, backend: local}}\n"
        "routes: {auto: {strategies: [single, serch]}}\n"
    )
    check = runner.invoke(app, ["policy", "check", str(bad)])
    served = runner.invoke(app, ["serve", "--policy", str(bad), "--port", "1"])
    assert served.exit_code == 2
    expected = f"{bad}: routes.auto.strategies[1]: unknown strategy 'serch'"
    assert expected in check.output and expected in served.output
    assert "refusing to start" in served.output
