"""Virtual API keys: stored only as salted SHA-256 hashes, mapped to tenants, revocable."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from typing import Any

__all__ = ["KeyStore", "hash_key", "key_id"]


def hash_key(key: str) -> str:
    """The stored form of a key: sha256(pepper + key), pepper from THINKROUTE_KEY_PEPPER."""
    pepper = os.environ.get("THINKROUTE_KEY_PEPPER", "")
    return hashlib.sha256((pepper + key).encode()).hexdigest()


def key_id(hashed: str) -> str:
    """A short public identifier of a key (a prefix of its hash), for listing and revoking."""
    return hashed[:12]


class KeyStore:
    """Key hash → tenant, in process memory or in a Redis hash shared by every replica."""

    def __init__(self, redis_client: Any | None = None, prefix: str = "thinkroute") -> None:
        self._redis = redis_client
        self._name = f"{prefix}:keys"
        self._local: dict[str, dict[str, Any]] = {}

    def declare(self, tenant: str, hashes: list[str]) -> None:
        """Keys written in the policy (as hashes) are always valid for their tenant."""
        for hashed in hashes:
            self._local[hashed] = {"tenant": tenant, "revoked": False, "declared": True}

    async def create(self, tenant: str) -> tuple[str, str]:
        """A new key for ``tenant``: (the plaintext, shown once; its id)."""
        key = "tr-" + secrets.token_urlsafe(24)
        hashed = hash_key(key)
        record = {"tenant": tenant, "revoked": False}
        if self._redis is not None:
            await self._redis.hset(self._name, hashed, json.dumps(record))
        else:
            self._local[hashed] = record
        return key, key_id(hashed)

    async def revoke(self, kid: str) -> bool:
        """Revoke every stored key whose id is ``kid``."""
        found = False
        for hashed, record in list(self._local.items()):
            if key_id(hashed) == kid:
                record["revoked"], found = True, True
        if self._redis is not None:
            for raw_hash, raw in (await self._redis.hgetall(self._name)).items():
                hashed = raw_hash.decode() if isinstance(raw_hash, bytes) else raw_hash
                if key_id(hashed) == kid:
                    record = json.loads(raw)
                    record["revoked"] = True
                    await self._redis.hset(self._name, hashed, json.dumps(record))
                    found = True
        return found

    async def lookup(self, key: str) -> str | None:
        """The tenant of a valid key, or ``None`` (unknown or revoked)."""
        hashed = hash_key(key)
        record = self._local.get(hashed)
        if record is None and self._redis is not None:
            raw = await self._redis.hget(self._name, hashed)
            record = json.loads(raw) if raw else None
        if record is None or record.get("revoked"):
            return None
        return str(record["tenant"])


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(given.encode(), expected.encode())
