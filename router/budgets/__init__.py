"""Tenants, API keys and budgets: atomic reserve-and-settle, in process or in Redis.

Build one :class:`BudgetService` per app (``BudgetService.create(policy)``, then ``start()`` in the
lifespan and ``await aclose()`` at shutdown); the admin API reaches it as ``app.state.budgets``.
"""

from router.budgets.config import BudgetLimit, BudgetsConfig
from router.budgets.keys import KeyStore, hash_key
from router.budgets.limits import Cost, TenantLimits
from router.budgets.meters import StoreUnavailable
from router.budgets.service import BudgetService, Ticket

__all__ = [
    "BudgetLimit",
    "BudgetService",
    "BudgetsConfig",
    "Cost",
    "KeyStore",
    "StoreUnavailable",
    "TenantLimits",
    "Ticket",
    "hash_key",
]
