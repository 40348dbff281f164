"""``thinkroute keys`` and the package's public surface."""

from __future__ import annotations

import hashlib

import pytest
from typer.testing import CliRunner

import router.budgets
from router.cli import app

runner = CliRunner()


def test_keys_hash_reads_stdin_and_uses_the_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINKROUTE_KEY_PEPPER", "p")
    result = runner.invoke(app, ["keys", "hash"], input="tr-one\n\ntr-two\n")
    assert result.exit_code == 0
    assert result.stdout.split() == [hashlib.sha256(b"ptr-" + k).hexdigest() for k in (b"one", b"two")]
    assert runner.invoke(app, ["keys", "hash"], input="").exit_code == 2


def test_keys_new_prints_a_key_and_its_hash() -> None:
    result = runner.invoke(app, ["keys", "new"])
    key, hashed = result.stdout.split()[:2]
    assert key.startswith("tr-") and len(key) > 30 and hashed == router.budgets.hash_key(key)


def test_public_surface_is_pinned() -> None:
    assert sorted(router.budgets.__all__) == [
        "BudgetLimit", "BudgetService", "BudgetsConfig", "Cost", "KeyStore", "StoreUnavailable", "TenantLimits",
        "Ticket", "hash_key",
    ]  # fmt: skip
    for name in router.budgets.__all__:
        assert getattr(router.budgets, name).__module__.startswith("router.budgets")
