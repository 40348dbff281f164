"""Step-wise generation for search: continue partial solutions up to the next step delimiter.

Beam search and PRM scoring drive generation one reasoning step at a time: every partial solution
(prefix) is continued ``k`` times until the step delimiter (``"\\n\\n"`` by default) that follows
some text (a delimiter right at the start of a step, such as the newline after the previous step,
belongs to the step), and each branch comes back with its text, token count and per-token
logprobs. All branches of all prefixes decode in one batch; the ``k`` branches of a prefix share its prefill.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from local_backend.decoding import TokenProcessor
from local_backend.jobs import Job
from local_backend.params import EngineResult, SamplingParams

__all__ = ["StepResult", "step_job", "step_results"]


@dataclass
class StepResult:
    """One branch: the step's text (without the delimiter) and what it cost.

    ``finish_reason`` is ``"delimiter"`` (the step ended at the delimiter), ``"eos"`` (the model ended
    the whole solution), ``"stop"`` (another stop sequence), ``"length"`` (``max_tokens`` reached),
    ``"deadline"`` or ``"cancelled"``. ``token_ids`` and ``logprobs`` cover every generated token,
    the one holding the delimiter included. ``prompt_tokens`` is the length of prompt + prefix
    (prefilled once for all branches of the prefix).
    """

    prefix: str
    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    prompt_tokens: int = 0

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def logprob(self) -> float:
        """Sum of the token logprobs (the branch's log-likelihood under the model)."""
        return float(sum(self.logprobs))


def step_job(
    prompt: str,
    prefixes: Sequence[str] = ("",),
    *,
    k: int = 1,
    delimiter: str = "\n\n",
    max_tokens: int = 64,
    temperature: float = 0.7,
    top_p: float = 1.0,
    seed: int | None = None,
    stop: tuple[str, ...] = (),
    deadline: float | None = None,
    cancel: threading.Event | None = None,
    processors: tuple[TokenProcessor, ...] = (),
) -> Job:
    """The engine job continuing every ``prompt + prefix`` ``k`` times up to ``delimiter``."""
    if not delimiter:
        raise ValueError("the step delimiter must not be empty")
    params = SamplingParams(
        max_new_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        n=k,
        stop=(delimiter, *(s for s in stop if s != delimiter)),
        seed=seed,
        deadline=deadline,
        logprobs=True,
        stop_after_text=True,
    )
    return Job(prompt, params, cancel=cancel, prefixes=tuple(prefixes) or ("",), processors=processors)


def step_results(job: Job, result: EngineResult, delimiter: str) -> list[StepResult]:
    """The engine's samples for a step job, as branches in prefix-then-branch order."""
    lengths = result.prompt_lengths or [0] * len(job.prefixes)
    branches: list[StepResult] = []
    per_prefix = job.params.n
    for index, sample in enumerate(result.samples):
        prefix = job.prefixes[index // per_prefix]
        if sample.stop == delimiter:
            reason = "delimiter"
        elif sample.stop is not None:
            reason = "stop"
        elif sample.finish_reason == "stop":
            reason = "eos"
        else:
            reason = sample.finish_reason
        prompt_tokens = lengths[index // per_prefix]
        branches.append(StepResult(prefix, sample.text, sample.token_ids, sample.logprobs or [], reason, prompt_tokens))
    return branches
