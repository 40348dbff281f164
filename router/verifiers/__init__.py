"""Verifiers, registered by name: ``vote``, ``math_check``, ``code_tests``, ``llm_judge``."""

from __future__ import annotations

from collections.abc import Callable

from router.backends.base import Backend
from router.verifiers.base import VerificationTask, Verifier, VerifierResult
from router.verifiers.code_tests import CodeTestsVerifier
from router.verifiers.llm_judge import LLMJudgeVerifier
from router.verifiers.math_check import MathCheckVerifier
from router.verifiers.vote import VoteVerifier

__all__ = ["VERIFIERS", "VerificationTask", "Verifier", "VerifierResult", "build_verifier"]

# name -> factory(judge backend); only llm_judge uses the backend
VERIFIERS: dict[str, Callable[[Backend], Verifier]] = {
    "vote": lambda backend: VoteVerifier(),
    "math_check": lambda backend: MathCheckVerifier(),
    "code_tests": lambda backend: CodeTestsVerifier(),
    "llm_judge": lambda backend: LLMJudgeVerifier(backend),
}


def build_verifier(name: str, backend: Backend) -> Verifier:
    """A fresh verifier for one request (some keep per-request state, e.g. math_check's classes)."""
    try:
        factory = VERIFIERS[name]
    except KeyError:
        raise KeyError(f"unknown verifier {name!r} (known: {sorted(VERIFIERS)})") from None
    return factory(backend)
