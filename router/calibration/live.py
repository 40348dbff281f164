"""A policy's runtime with every backend behind the recording cache (or, on replay, none loaded at all)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from router.backends.base import Backend, BackendCapabilities
from router.calibration.cache import OfflineBackend, RecordingBackend, SampleCache, capabilities_json
from router.policy.schema import Policy
from router.runtime import BackendFactory, BackendPool, Runtime, with_fallbacks

__all__ = ["backend_identity", "recording_runtime"]

_BACKEND_TYPES = ("local", "openai_compatible", "litellm")


def backend_identity(config: Any) -> str:
    """What makes two backends answer alike: type, model and endpoint (not the policy's name for it)."""
    parts = [str(config.type), str(config.model)]
    if getattr(config, "api_base", None):
        parts.append(str(config.api_base))
    return ":".join(parts)


def _offline_factory(meta: Mapping[str, Any]) -> BackendFactory:
    def factory(name: str, config: Any) -> Backend:
        flags = meta.get(backend_identity(config), {})
        return OfflineBackend(name, BackendCapabilities(**flags))

    return factory


@asynccontextmanager
async def recording_runtime(
    policy: Policy,
    cache: SampleCache,
    *,
    replay: bool = False,
    backend_factories: Mapping[str, BackendFactory] | None = None,
) -> AsyncIterator[Runtime]:
    """The policy's runtime with recording backends; loads and closes the real backends unless ``replay``."""
    meta = cache.read_meta().get("capabilities", {})
    factories = dict(backend_factories or {})
    if replay:
        factories = dict.fromkeys(_BACKEND_TYPES, _offline_factory(meta))
    pool = BackendPool(factories)
    runtime = pool.build(policy)
    try:
        if not replay:
            await pool.activate(runtime, wait=True)
            capabilities = {backend_identity(policy.backends[name]): capabilities_json(b.capabilities)
                            for name, b in runtime.backends.items()}  # fmt: skip
            cache.write_meta({"capabilities": {**meta, **capabilities}})
        mode: Literal["record", "replay"] = "replay" if replay else "record"
        wrapped: dict[str, Backend] = {
            name: RecordingBackend(backend, cache, backend_identity(policy.backends[name]), mode=mode)
            for name, backend in runtime.backends.items()
        }
        # strategies call ``routed`` (fallback chains), so those are rebuilt over the recording wrappers too
        yield dataclasses.replace(runtime, backends=wrapped, routed=with_fallbacks(policy, wrapped))
    finally:
        await pool.aclose()
