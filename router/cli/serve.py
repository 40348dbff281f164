"""``thinkroute serve``: run the router on a policy."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from router.errors import PolicyError

__all__ = ["serve_command"]


def serve_command(
    policy: Annotated[
        Path, typer.Option("--policy", "-p", envvar="THINKROUTE_POLICY", help="Policy YAML file.")
    ] = Path("policies/default.yaml"),
    host: Annotated[str | None, typer.Option(help="Bind address (default: the policy's server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the policy's server.port).")] = None,
    log_level: Annotated[
        str | None, typer.Option(envvar="THINKROUTE_LOG_LEVEL", help="Log level (default: policy telemetry.log_level).")
    ] = None,
) -> None:
    """Start the OpenAI-compatible router on POLICY; /readyz turns 200 once models are loaded."""
    import uvicorn

    from router.api import create_app
    from router.policy import load_policy
    from router.telemetry import configure_logging

    try:
        loaded = load_policy(policy)
    except PolicyError as exc:  # the same lines as `thinkroute policy check`
        typer.echo(f"error: refusing to start on an invalid policy ({policy})", err=True)
        for line in exc.errors or [exc.message]:
            typer.echo(line if line.startswith(str(policy)) else f"{policy}: {line}", err=True)
        raise typer.Exit(2) from None
    level = (log_level or loaded.telemetry.log_level).lower()
    configure_logging(level)  # JSON lines on stderr (THINKROUTE_LOG_FORMAT=text for humans), secrets redacted
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    app = create_app(policy)
    bind_host = host or loaded.server.host
    bind_port = port or loaded.server.port
    logging.getLogger("thinkroute").info("listening on http://%s:%s (policy %s)", bind_host, bind_port, policy)
    uvicorn.run(app, host=bind_host, port=bind_port, log_level=level, log_config=None, access_log=False,
                timeout_graceful_shutdown=30)  # fmt: skip
