"""A separate router process for budget tests: ``python worker.py MODE CONFIG_JSON``.

``load``: wait until every worker is ready (a Redis counter), then run many concurrent requests
against the shared Redis budgets with known costs (some fail after a partial spend, some are cut by
a deadline) and print the micro-dollars charged per tenant as JSON.
``reserve-and-die``: reserve, report, then SIGKILL itself before settling.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from typing import Any

from router.budgets import BudgetService, Cost
from router.errors import BudgetExceeded
from tests.router.budgets.conftest import make_policy


async def _barrier(url: str, name: str, parties: int) -> None:
    """Start together: every worker increments a counter and waits until all have."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(url)
    await client.incr(name)
    while int(await client.get(name) or 0) < parties:
        await asyncio.sleep(0.01)
    await client.aclose()


async def load(config: dict[str, Any]) -> None:
    service = BudgetService.create(make_policy(config["tenants"], **config["budgets"]))
    rng = random.Random(config["seed"])
    charged: dict[str, int] = {}
    outcomes = {"ok": 0, "failed": 0, "timeout": 0, "refused": 0}

    async def one(tenant: str, worst: int, actual: int, outcome: str) -> None:
        try:
            async with asyncio.timeout(0.05 if outcome == "timeout" else None):
                async with service.hold(tenant, Cost(usd=worst / 1e6, tokens=worst)) as ticket:
                    await asyncio.sleep(rng.random() * 0.01)
                    ticket.add(Cost(usd=actual / 1e6, tokens=actual))  # one upstream call completed
                    charged[tenant] = charged.get(tenant, 0) + actual
                    if outcome == "failed":
                        raise ConnectionError("upstream failed mid-request")
                    if outcome == "timeout":
                        await asyncio.sleep(5)
            outcomes["ok"] += 1
        except BudgetExceeded:
            outcomes["refused"] += 1
        except ConnectionError:
            outcomes["failed"] += 1
        except TimeoutError:
            outcomes["timeout"] += 1

    jobs = [(rng.choice(config["names"]), rng.randint(100, 900), rng.randint(0, 100),
             rng.choices(["ok", "failed", "timeout"], [8, 1, 1])[0]) for _ in range(config["requests"])]  # fmt: skip
    await _barrier(config["budgets"]["redis_url"], config["barrier"], config["parties"])
    await asyncio.gather(*(one(*job) for job in jobs))
    await service.aclose()
    print(json.dumps({"charged": charged, "outcomes": outcomes}))


async def reserve_and_die(config: dict[str, Any]) -> None:
    service = BudgetService.create(make_policy(config["tenants"], **config["budgets"]))
    await service.reserve(config["tenant"], Cost(usd=config["usd"]))
    print("reserved", flush=True)
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    mode, raw = sys.argv[1], json.loads(sys.argv[2])
    asyncio.run(load(raw) if mode == "load" else reserve_and_die(raw))
