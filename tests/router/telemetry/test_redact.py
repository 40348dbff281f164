"""The redactor removes credentials by shape and by the environment's secret values, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.telemetry import Redactor, redact
from router.telemetry.redact import _PATTERNS

_FRAGMENTS = st.sampled_from([
    "Bearer ", "BASIC ", "sk-", "pk_", "proj-", "AIza", "ghp_", "hf_", "xoxb-", "AKIA", "ASIA", "API_KEY", "apiKey",
    "x-api-key", "Authorization", "access-token", "AuthToken", "SECRET", "Passwd", "://", "user:", "@", "=", ": ",
    '"', "'", " ", "0123456789abcdefXYZ", "ABCDEFGHIJKLMNOP", "_", "-", "\n",
])  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer sk-test-SECRET123456", "Authorization: Bearer [REDACTED]"),
        ("header authorization=basic dXNlcjpwYXNz", "header authorization=basic [REDACTED]"),
        ("key sk-ant-api03-abcdefghijkl was rejected", "key [REDACTED] was rejected"),
        ("openai sk-proj-ABCDEFGH12345678", "openai [REDACTED]"),
        ("url?api_key=abcd1234xyz&x=1", "url?api_key=[REDACTED]&x=1"),
        ('{"api_key": "zzz12345"}', '{"api_key": "[REDACTED]"}'),
        ("x-api-key: foo12345", "x-api-key: [REDACTED]"),
        ("redis://:hunter2pass@redis:6379/0", "redis://:[REDACTED]@redis:6379/0"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstu", "google [REDACTED]"),
        ("hf token hf_abcdefghijklmnopqrstuvwxyz", "hf token [REDACTED]"),
        ("aws AKIAIOSFODNN7EXAMPLE", "aws [REDACTED]"),
    ],
)
def test_credentials_are_redacted_by_shape(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ordinary text about task-force and risk-free skills",
        "What is 6 times 7? #### 42",
        "the tokens_total metric and a max_tokens of 64",
        "http://127.0.0.1:8080/v1/chat/completions",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert Redactor()(text) == text


def test_secret_valued_environment_variables_are_redacted_exactly() -> None:
    env = {"ACME_API_KEY": "acme-0123456789abcdef", "DB_PASSWORD": "correct-horse", "HOME": "/home/someone",
           "GITHUB_TOKEN": "short"}  # fmt: skip
    redactor = Redactor.from_env(env)
    assert redactor("acme-0123456789abcdef and correct-horse") == "[REDACTED] and [REDACTED]"
    assert redactor("/home/someone short") == "/home/someone short"  # not secret-named / too short to be a key
    redactor.add("tenant-key-987654321")
    assert redactor("key tenant-key-987654321!") == "key [REDACTED]!"


def test_process_wide_redact_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact("value zz-provider-42-abcdefgh") == "value zz-provider-42-abcdefgh"
    monkeypatch.setenv("ZZ_PROVIDER_API_KEY", "zz-provider-42-abcdefgh")
    assert redact("value zz-provider-42-abcdefgh") == "value [REDACTED]"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=12).map("".join))
def test_the_fast_path_never_skips_a_credential(text: str) -> None:
    """Skipping the patterns on text without trigger substrings gives what running them all gives."""
    full = text
    for pattern, replacement in _PATTERNS:
        full = pattern.sub(replacement, full)
    assert Redactor()(text) == full
