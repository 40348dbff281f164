"""Virtual API keys: stored only as SHA-256 hashes (with an optional server-side pepper), mapped to tenants.

Keys come from two places: hashes declared in the policy (``tenants.<id>.api_key_hashes``) and keys
created at run time through the admin API (stored in the shared map, so every replica sees them).
Either kind is revoked by its key id; revocations are shared too. A plaintext key is returned once,
by :meth:`KeyStore.create`, and never stored or logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import OrderedDict
from typing import Any

from router.budgets.meters import StoreUnavailable
from router.budgets.redis_link import RedisLink
from router.budgets.shared import LocalMap, RedisMap, SharedMap

__all__ = ["KeyStore", "hash_key", "key_id", "same_secret"]

PEPPER_ENV = "THINKROUTE_KEY_PEPPER"
_CACHE_SIZE = 10_000


def hash_key(key: str) -> str:
    """The stored form of a key: hex sha256 of (pepper + key), the pepper from ``THINKROUTE_KEY_PEPPER``."""
    pepper = os.environ.get(PEPPER_ENV, "")
    return hashlib.sha256((pepper + key).encode()).hexdigest()


def key_id(hashed: str) -> str:
    """The public id of a key declared in the policy (a prefix of its hash), for listing and revoking."""
    return hashed[:12]


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode(), expected.encode())


class KeyStore:
    """Key hash → tenant. ``records``: hash → JSON record; ``ids``: key id → hash; ``revoked``: hash → "1"."""

    def __init__(self, records: SharedMap, ids: SharedMap, revoked: SharedMap, *, shared: bool = False) -> None:
        self._records, self._ids, self._revoked = records, ids, revoked
        self._declared: dict[str, str] = {}
        self._known: OrderedDict[str, str] = OrderedDict()  # last good lookups, used only during outages
        self.shared = shared
        self._created_here = False

    @classmethod
    def local(cls) -> KeyStore:
        """Keys in this process only (single replica)."""
        return cls(LocalMap(), LocalMap(), LocalMap())

    @classmethod
    def redis(cls, link: RedisLink, prefix: str) -> KeyStore:
        """Keys in Redis hashes under ``prefix``, shared by every replica."""
        records, ids = RedisMap(link, f"{prefix}:keys"), RedisMap(link, f"{prefix}:key_ids")
        return cls(records, ids, RedisMap(link, f"{prefix}:revoked"), shared=True)

    def declare(self, hashes: dict[str, str]) -> None:
        """The policy's keys (hash → tenant); replaces the previous policy's, so a removed hash stops working."""
        self._declared = {h.lower(): tenant for h, tenant in hashes.items()}
        self._known.clear()

    @property
    def may_have_keys(self) -> bool:
        """False only for a single replica with no declared and no created keys (any bearer is then anonymous)."""
        return self.shared or self._created_here or bool(self._declared)

    async def create(self, tenant: str) -> tuple[str, str]:
        """A new key for ``tenant``: (the plaintext, shown once; its key id)."""
        key = "tr-" + secrets.token_urlsafe(24)
        hashed, kid = hash_key(key), "k" + secrets.token_hex(6)
        record = {"tenant": tenant, "key_id": kid, "created": int(time.time()), "revoked": False}
        await self._records.set(hashed, json.dumps(record))
        await self._ids.set(kid, hashed)
        self._created_here = True
        return key, kid

    async def revoke(self, kid: str) -> bool:
        """Revoke the key with id ``kid`` (created or declared); False when there is none."""
        for hashed in self._declared:
            if key_id(hashed) == kid:
                await self._revoked.set(hashed, "1")
                self._known.pop(hashed, None)
                return True
        stored = await self._ids.get(kid)
        raw = await self._records.get(stored) if stored else None
        if stored is None or raw is None:
            return False
        record = json.loads(raw)
        record["revoked"] = True
        await self._records.set(stored, json.dumps(record))
        self._known.pop(stored, None)
        return True

    async def lookup(self, key: str, *, stale_ok: bool = False) -> str | None:
        """The tenant of a valid key, or ``None`` (unknown or revoked).

        Raises ``StoreUnavailable`` when the store cannot answer, unless ``stale_ok`` and this key was
        valid at its last lookup here (fail-open serving during an outage).
        """
        hashed = hash_key(key)
        try:
            tenant = await self._lookup(hashed)
        except StoreUnavailable:
            if stale_ok and hashed in self._known:
                return self._known[hashed]
            raise
        if tenant is None:
            self._known.pop(hashed, None)
        else:
            self._known[hashed] = tenant
            self._known.move_to_end(hashed)
            while len(self._known) > _CACHE_SIZE:
                self._known.popitem(last=False)
        return tenant

    async def _lookup(self, hashed: str) -> str | None:
        if hashed in self._declared:
            return None if await self._revoked.get(hashed) else self._declared[hashed]
        raw = await self._records.get(hashed)
        if raw is None:
            return None
        record = json.loads(raw)
        return None if record.get("revoked") else str(record["tenant"])

    async def list_keys(self, tenant: str) -> list[dict[str, Any]]:
        """The keys of ``tenant`` (ids and state, never hashes)."""
        revoked = await self._revoked.items()
        out = [{"key_id": key_id(h), "declared": True, "revoked": h in revoked}
               for h, owner in self._declared.items() if owner == tenant]  # fmt: skip
        for raw in (await self._records.items()).values():
            record = json.loads(raw)
            if record.get("tenant") == tenant:
                out.append({"key_id": record["key_id"], "declared": False, "revoked": bool(record.get("revoked")),
                            "created": record.get("created")})  # fmt: skip
        return out
