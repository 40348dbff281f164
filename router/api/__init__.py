"""The OpenAI-compatible HTTP API."""

from router.api.app import create_app

__all__ = ["create_app"]
