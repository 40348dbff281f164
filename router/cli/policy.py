"""``thinkroute policy check|schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from router.errors import PolicyError

__all__ = ["policy_app", "policy_json_schema"]

policy_app = typer.Typer(help="Check policy files and write their JSON Schema.", no_args_is_help=True)

DEFAULT_SCHEMA_PATH = Path("policies/schema.json")


def policy_json_schema() -> dict[str, object]:
    """The JSON Schema of policy files, generated from the pydantic models."""
    from router.policy.schema import Policy

    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "thinkroute policy"
    return schema


@policy_app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="Policy YAML files.")]) -> None:
    """Validate policy files; print every error with its path and exit 1 if any is invalid."""
    from router.policy import load_policy

    failed = False
    for file in files:
        try:
            policy = load_policy(file)
        except PolicyError as exc:
            failed = True
            for line in exc.errors:
                typer.echo(f"{file}: {line}" if not line.startswith(str(file)) else line, err=True)
            continue
        typer.echo(f"{file}: ok ({len(policy.routes)} routes, {len(policy.strategies)} strategies, "
                   f"{len(policy.backends)} backends)")  # fmt: skip
    if failed:
        raise typer.Exit(1)


@policy_app.command("schema")
def schema(
    output: Annotated[Path, typer.Option("--output", "-o", help="File, or '-' for stdout.")] = DEFAULT_SCHEMA_PATH,
) -> None:
    """Write the policy JSON Schema (committed as policies/schema.json so editors validate YAML)."""
    text = json.dumps(policy_json_schema(), indent=2, sort_keys=True) + "\n"
    if str(output) == "-":
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")
