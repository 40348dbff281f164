"""Verifiers, registered by name: ``vote``, ``math_check``, ``code_tests``, ``llm_judge``.

A verifier reads a task and its candidate completions and returns, per candidate, an answer-class
label (for voting) and a score in [0, 1] (``None`` when it only votes), plus what verifying
consumed. :func:`build_verifier` makes a fresh one per request; :func:`tally` counts the votes.
"""

from __future__ import annotations

from collections.abc import Callable

from router.backends.base import Backend
from router.errors import UnknownComponent
from router.verifiers.answers import extract_answer, normalise_answer
from router.verifiers.base import VerificationTask, Verifier, VerifierResult
from router.verifiers.code_tests import CodeTestsVerifier
from router.verifiers.llm_judge import LLMJudgeVerifier
from router.verifiers.math_check import MathCheckVerifier
from router.verifiers.sandbox import SandboxLimits, run_sandboxed
from router.verifiers.vote import Tally, VoteVerifier, tally, vote_shares

__all__ = [
    "VERIFIERS",
    "CodeTestsVerifier",
    "LLMJudgeVerifier",
    "MathCheckVerifier",
    "SandboxLimits",
    "Tally",
    "VerificationTask",
    "Verifier",
    "VerifierResult",
    "VoteVerifier",
    "build_verifier",
    "extract_answer",
    "normalise_answer",
    "run_sandboxed",
    "tally",
    "vote_shares",
]

# name -> factory(judge backend); only llm_judge uses the backend
VERIFIERS: dict[str, Callable[[Backend], Verifier]] = {
    "vote": lambda backend: VoteVerifier(),
    "math_check": lambda backend: MathCheckVerifier(),
    "code_tests": lambda backend: CodeTestsVerifier(),
    "llm_judge": lambda backend: LLMJudgeVerifier(backend),
}


def build_verifier(name: str, backend: Backend) -> Verifier:
    """A fresh verifier for one request (math_check keeps its classes across the request's waves).

    An unknown name raises :class:`~router.errors.UnknownComponent` (a ``KeyError``) listing the known names.
    """
    try:
        factory = VERIFIERS[name]
    except KeyError:
        raise UnknownComponent("verifier", name, list(VERIFIERS)) from None
    return factory(backend)
