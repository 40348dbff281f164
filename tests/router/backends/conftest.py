"""Backend tests: the provider key the LiteLLM test backends read is set for every test here."""

from __future__ import annotations

import pytest

from tests.router.backends.litellm_support import KEY_ENV


@pytest.fixture(autouse=True)
def _provider_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-provider-test")
