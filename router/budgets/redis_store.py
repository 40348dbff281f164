"""The Redis budget store: the semantics of :mod:`router.budgets.meters`, made atomic by Lua scripts.

Keys (all under the policy's ``key_prefix``): one hash per meter (``spent``, ``held``) that expires
with its window; ``{prefix}:reservations`` (id → reserved amounts) with a sorted-set expiry index;
``{prefix}:settled:{id}`` tombstones, so a settlement retried after a lost reply, or one for a
reservation the reconciler already settled, never charges twice. A settlement whose reservation
the store lost (a restart without persistence) or never had (made fail-open) charges its actual
amounts once. Every script is idempotent, so the client may retry a call whose reply was lost.
Amounts travel as decimal strings (Lua numbers are doubles, printed with 14 significant digits).
The reconcile script reads meter keys from the reservation record: standalone Redis (or a
single hash slot), not Redis Cluster.
"""

from __future__ import annotations

import json
import time
from typing import Any

from router.budgets.meters import Meter, MeterState, Refusal, Reservation, Settled
from router.budgets.redis_link import RedisLink

__all__ = ["RedisStore"]

_RESERVE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return {0, 0} end
local n = #KEYS - 3
for i = 1, n do
  local limit = tonumber(ARGV[3 * i + 1])
  if limit >= 0 then
    local v = redis.call('HMGET', KEYS[3 + i], 'spent', 'held')
    local left = limit - tonumber(v[1] or '0') - tonumber(v[2] or '0')
    if tonumber(ARGV[3 * i + 2]) > left then return {i, left} end
  end
end
for i = 1, n do
  redis.call('HINCRBY', KEYS[3 + i], 'held', ARGV[3 * i + 2])
  if redis.call('PTTL', KEYS[3 + i]) < 0 then redis.call('PEXPIRE', KEYS[3 + i], ARGV[3 * i + 3]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {0, 0}
"""

_SETTLE = """
local n = #KEYS - 3
local payload = redis.call('HGET', KEYS[1], ARGV[1])
if not payload and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local held = false
if payload then held = cjson.decode(payload) end
for i = 1, n do
  local key = KEYS[3 + i]
  if held and held[i][2] ~= '0' then redis.call('HINCRBY', key, 'held', '-' .. held[i][2]) end
  redis.call('HINCRBY', key, 'spent', ARGV[2 + i])
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 + n + i]) end
end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
if payload then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 2
"""

_RECONCILE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local done = 0
for _, rid in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[1], rid)
  if payload then
    for _, m in ipairs(cjson.decode(payload)) do
      if m[2] ~= '0' then
        redis.call('HINCRBY', m[1], 'held', '-' .. m[2])
        if ARGV[3] == '1' then redis.call('HINCRBY', m[1], 'spent', m[2]) end
      end
      if redis.call('PTTL', m[1]) < 0 then redis.call('PEXPIRE', m[1], m[3]) end
    end
    redis.call('HDEL', KEYS[1], rid)
    redis.call('SET', ARGV[4] .. rid, '1', 'PX', ARGV[5])
    done = done + 1
  end
  redis.call('ZREM', KEYS[2], rid)
end
return done
"""


class RedisStore:
    """Budget meters in Redis, shared by every replica; see the module docstring for the key layout."""

    def __init__(self, link: RedisLink, prefix: str = "thinkroute", tombstone_ttl_s: float = 86_400.0) -> None:
        self.link = link
        self._reservations = f"{prefix}:reservations"
        self._index = f"{prefix}:reservations:expiry"
        self._tombstone = f"{prefix}:settled:"
        self._tombstone_ttl_ms = int(tombstone_ttl_s * 1000)
        client = link.client
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._reconcile = client.register_script(_RECONCILE)

    async def _script(self, script: Any, keys: list[str], args: list[Any], probe: bool = False) -> Any:
        async def call(client: Any) -> Any:
            return await script(keys=keys, args=args, client=client)

        return await self.link.run(call, probe=probe)

    async def reserve(self, rid: str, meters: list[Meter], ttl_s: float) -> Reservation:
        payload = json.dumps([[m.key, str(m.amount), str(m.ttl_ms)] for m in meters])  # strings: exact in Lua
        args: list[Any] = [rid, payload, time.time() + ttl_s]
        for m in meters:
            args += [m.limit, m.amount, m.ttl_ms]
        keys = [self._reservations, self._index, self._tombstone + rid, *(m.key for m in meters)]
        index, left = (int(x) for x in await self._script(self._reserve, keys, args))
        if index:
            return Reservation(rid, meters, refused=Refusal(meters[index - 1], left))
        return Reservation(rid, meters)

    async def settle(self, reservation: Reservation, actual: list[int], probe: bool = False) -> Settled:
        meters = reservation.meters
        keys = [self._reservations, self._index, self._tombstone + reservation.id, *(m.key for m in meters)]
        args = [reservation.id, self._tombstone_ttl_ms, *actual, *(m.ttl_ms for m in meters)]
        return Settled(int(await self._script(self._settle, keys, args, probe=probe)))

    async def read(self, keys: list[str]) -> list[MeterState]:
        async def call(client: Any) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.hmget(key, "spent", "held")
            return list(await pipe.execute())

        rows = await self.link.run(call)
        return [MeterState(int(s or 0), int(h or 0)) for s, h in rows]

    async def reconcile(self, charge: bool) -> int:
        done = 0
        while True:  # in batches, so one script never blocks Redis for long
            args = [time.time(), 200, "1" if charge else "0", self._tombstone, self._tombstone_ttl_ms]
            batch = int(await self._script(self._reconcile, [self._reservations, self._index], args, probe=True))
            done += batch
            if batch < 200:
                return done

    async def aclose(self) -> None:
        await self.link.aclose()
