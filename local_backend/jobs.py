"""Engine jobs: what one caller asks for, turned into decoding rows and read back into samples."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import torch

from local_backend.budget_forcing import BudgetForcing
from local_backend.decoding import Row, RowSpec, TokenProcessor
from local_backend.params import SampleOutput, SamplingParams
from local_backend.sampling import make_generator, row_seed
from local_backend.stopping import StopController, cut_at_stop
from local_backend.streaming import TextDeltas

__all__ = ["Job", "PlannedJob", "finish_job", "plan_job"]


@dataclass
class Job:
    """One engine call: a prompt, its sampling settings, and optional hooks.

    With ``prefixes`` (step-wise generation), every prefix is appended to the prompt and continued
    ``params.n`` times. ``on_text`` / ``on_reasoning`` stream a single sample's answer / thinking;
    they are called from the engine's thread. Setting ``cancel`` ends the job's rows at the next token.
    ``processors`` are extra logits processors for every row (constraints, tests' scripted models).
    """

    prompt: str
    params: SamplingParams
    cancel: threading.Event | None = None
    on_text: Callable[[str], None] | None = None
    on_reasoning: Callable[[str], None] | None = None
    prefixes: tuple[str, ...] = ()
    processors: tuple[TokenProcessor, ...] = ()

    @property
    def rows(self) -> int:
        """How many sequences this job decodes."""
        return self.params.n * max(1, len(self.prefixes))


@dataclass
class PlannedJob:
    """A job's distinct prompts (token ids), its rows (``prompt`` indexes ``prompts``) and their controllers."""

    job: Job
    prompts: list[list[int]]
    specs: list[RowSpec]
    controllers: list[StopController | BudgetForcing] = field(default_factory=list)


def plan_job(
    job: Job,
    tokenizer: Any,
    eos_ids: Collection[int],
    device: torch.device | str,
    processors: tuple[TokenProcessor, ...] = (),
) -> PlannedJob:
    """Tokenize the job's prompts and build one row per sample, each with its own generator and controller."""
    params = job.params
    texts = [job.prompt + prefix for prefix in job.prefixes] or [job.prompt]
    prompts = [_prompt_ids(tokenizer, text) for text in texts]
    planned = PlannedJob(job, prompts, [])
    for p in range(len(texts)):
        for i in range(params.n):
            controller = _controller(params, tokenizer, eos_ids)
            generator = None
            if params.temperature > 0:
                generator = make_generator(row_seed(params.seed, p * params.n + i), device)
            cap = controller.max_row_tokens if isinstance(controller, BudgetForcing) else params.max_new_tokens
            spec = RowSpec(
                prompt=p,
                controller=controller,
                max_new_tokens=cap,
                temperature=params.temperature,
                top_p=params.top_p,
                generator=generator,
                processors=(*job.processors, *processors),
                logprobs=params.logprobs or params.top_logprobs > 0,
                top_logprobs=params.top_logprobs,
                cancel=job.cancel,
                deadline=params.deadline,
            )
            planned.specs.append(spec)
            planned.controllers.append(controller)
    if job.rows == 1 and (job.on_text or job.on_reasoning):
        planned.specs[0].on_step = _streamer(job, tokenizer, planned.controllers[0])
    return planned


def _prompt_ids(tokenizer: Any, text: str) -> list[int]:
    ids = list(tokenizer(text).input_ids)
    if not ids:  # a model needs at least one token to continue from
        first = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ids = [int(first or 0)]
    return ids


def _controller(params: SamplingParams, tokenizer: Any, eos_ids: Collection[int]) -> StopController | BudgetForcing:
    answer = StopController(tokenizer, eos_ids, params.stop, params.max_new_tokens, after_text=params.stop_after_text)
    if params.thinking is None:
        return answer
    return BudgetForcing(params.thinking, tokenizer, eos_ids, answer)


def _streamer(job: Job, tokenizer: Any, controller: StopController | BudgetForcing) -> Callable[[Row], None]:
    if not isinstance(controller, BudgetForcing):
        deltas = TextDeltas(tokenizer, job.params.stop, job.on_text or _ignore)
        return lambda row: deltas.update(row.tokens, final=row.finish is not None)
    fmt = controller.format
    thinking = TextDeltas(tokenizer, (fmt.close_text, *fmt.end_signals), job.on_reasoning or _ignore)
    answer = TextDeltas(tokenizer, job.params.stop, job.on_text or _ignore)

    def update(row: Row) -> None:
        final = row.finish is not None
        start = controller.answer_start
        thinking.update(row.tokens if start is None else row.tokens[:start], final=final or start is not None)
        if start is not None:
            answer.update(row.tokens[start:], final=final)

    return update


def _ignore(_: str) -> None:
    return None


def finish_job(planned: PlannedJob, rows: list[Row], tokenizer: Any) -> list[SampleOutput]:
    """Read the job's finished rows back into samples (text cut at its stop sequence)."""
    return [
        _sample(row, controller, planned.job.params, tokenizer)
        for row, controller in zip(rows, planned.controllers, strict=True)
    ]


def _sample(
    row: Row, controller: StopController | BudgetForcing, params: SamplingParams, tokenizer: Any
) -> SampleOutput:  # fmt: skip
    finish = row.finish or "length"
    logprobs = list(row.logprobs) if params.logprobs or params.top_logprobs else None
    tops = list(row.top_logprobs) if params.top_logprobs else None
    if isinstance(controller, BudgetForcing):
        split = controller.split(row)
        if split.stop is not None:
            finish = "stop"
        return SampleOutput(split.answer, list(row.tokens), finish, logprobs, split.reasoning, split.reasoning_tokens,
                            controller.waits, split.stop, tops, controller.answer_start)  # fmt: skip
    text, stop = cut_at_stop(
        tokenizer.decode(row.tokens, skip_special_tokens=True), params.stop, params.stop_after_text
    )
    if stop is not None:
        finish = "stop"
    return SampleOutput(text, list(row.tokens), finish, logprobs, stop=stop, top_logprobs=tops)
