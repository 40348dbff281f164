"""The ``thinkroute`` command line."""

from __future__ import annotations

import typer

from classifiers.cli import classifier_app, classify_command
from router.budgets.cli import keys_app
from router.cli.calibrate import calibrate_command
from router.cli.explain import explain_command
from router.cli.policy import policy_app
from router.cli.serve import serve_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="thinkroute",
    help="Budget-aware routing middleware: decides, per request, how hard the model should think.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve_command)
app.command("explain")(explain_command)
app.add_typer(policy_app, name="policy")
app.command("classify")(classify_command)
app.add_typer(classifier_app, name="classifier")
app.add_typer(keys_app, name="keys")
app.command("calibrate")(calibrate_command)


@app.callback()
def _root() -> None:
    """thinkroute: route each request to the cheapest strategy that meets its quality bar."""


def main() -> None:
    """Console-script entry point."""
    app()
