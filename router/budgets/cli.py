"""``thinkroute keys``: make keys and the hashes that go into a policy's ``tenants.<id>.api_key_hashes``.

Keys are read from stdin (never from the command line, which shells and ``ps`` would keep).
"""

from __future__ import annotations

import secrets
import sys

import typer

from router.budgets.keys import PEPPER_ENV, hash_key

__all__ = ["keys_app"]

keys_app = typer.Typer(help="API keys: generate one, or hash one for the policy file.", no_args_is_help=True)


@keys_app.command("hash")
def hash_command() -> None:
    """Print the sha256 hash of each key read from stdin (one per line), with the pepper of THINKROUTE_KEY_PEPPER."""
    keys = [line.strip() for line in sys.stdin if line.strip()]
    if not keys:
        typer.echo('no key on stdin: echo "$KEY" | thinkroute keys hash', err=True)
        raise typer.Exit(2)
    for key in keys:
        typer.echo(hash_key(key))


@keys_app.command("new")
def new_command() -> None:
    """Print a new random key and, on the next line, its hash (put the hash in the policy, give the key out)."""
    key = "tr-" + secrets.token_urlsafe(24)
    typer.echo(key)
    typer.echo(hash_key(key))
    typer.echo(f"(hashed with the pepper in {PEPPER_ENV}; the server must use the same)", err=True)
