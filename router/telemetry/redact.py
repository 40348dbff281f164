"""Keep secrets out of logs, spans and error bodies.

Two nets: patterns for things that look like credentials (``Bearer …`` tokens, ``sk-…`` style
provider keys, ``api_key=…`` pairs, passwords in URLs), and the exact values of secret-named
environment variables (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``, …) so that a
provider key in an unusual format is still caught.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["REDACTED", "Redactor", "redact"]

REDACTED = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i:\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{4,})"), r"\1 " + REDACTED),
    (re.compile(r"\b(?:sk|pk|rk)[-_](?:[A-Za-z0-9]+[-_])*[A-Za-z0-9]{8,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_\-]{30,}"), REDACTED),
    (re.compile(r"\b(?:gh[pousr]|github_pat|hf|glpat|xox[abprs])[-_][A-Za-z0-9_\-]{16,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (
        re.compile(
            r"(?i:((?:api[_-]?key|x-api-key|authorization|access[_-]?token|auth[_-]?token|secret|password|passwd)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED\]|(?:bearer|basic)\s)[^\s\"',;}&]+)"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(://[^:/@\s]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)
# Every pattern above needs one of these substrings (of the lower-cased text); most text (ids,
# names, numbers) has none, and substring tests are much cheaper than the patterns.
_LITERALS = (
    "bearer", "basic", "sk-", "sk_", "pk-", "pk_", "rk-", "rk_", "aiza", "ghp", "gho", "ghu", "ghs", "ghr",
    "github_pat", "hf_", "hf-", "glpat", "xox", "akia", "asia", "apikey", "api_key", "api-key", "authorization",
    "accesstoken", "access_token", "access-token", "authtoken", "auth_token", "auth-token", "secret", "passw",
)  # fmt: skip


def _may_hold_credential(text: str) -> bool:
    low = text.lower()
    return any(literal in low for literal in _LITERALS) or ("://" in low and "@" in low)


_SECRET_ENV = re.compile(r"(?i)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_KEY$|^KEY$)")
_MIN_SECRET_LEN = 8


class Redactor:
    """Replaces credentials in text with ``[REDACTED]``; knows the secret values of its environment."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._exact: re.Pattern[str] | None = None
        self.add(*secrets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor that also knows every secret-named environment variable's value."""
        env = os.environ if environ is None else environ
        return cls(value for name, value in env.items() if _SECRET_ENV.search(name))

    def add(self, *secrets: str) -> None:
        """Also redact these exact values (e.g. tenant API keys); short values are ignored."""
        fresh = {s for s in secrets if s and len(s) >= _MIN_SECRET_LEN} - self._secrets
        if not fresh:
            return
        self._secrets |= fresh
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._exact = re.compile("|".join(re.escape(s) for s in ordered))

    def __call__(self, text: str) -> str:
        """``text`` with every known secret and credential-looking token replaced."""
        if self._exact is not None:
            text = self._exact.sub(REDACTED, text)
        if not _may_hold_credential(text):
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


_default: tuple[tuple[tuple[str, str], ...], Redactor] | None = None


def redact(text: str) -> str:
    """Redact with a process-wide redactor that follows the current environment's secrets."""
    global _default
    secrets = tuple(sorted((k, v) for k, v in os.environ.items() if _SECRET_ENV.search(k)))
    if _default is None or _default[0] != secrets:
        _default = (secrets, Redactor(v for _, v in secrets))
    return _default[1](text)
