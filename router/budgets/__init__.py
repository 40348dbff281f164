"""Tenants, API keys and budgets: atomic reserve-and-settle, in process or in Redis."""

from router.budgets.config import BudgetLimit, BudgetsConfig
from router.budgets.service import BudgetService, Cost, Ticket

__all__ = ["BudgetLimit", "BudgetService", "BudgetsConfig", "Cost", "Ticket"]
