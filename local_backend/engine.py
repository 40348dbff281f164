"""The local transformers engine: load a model once, then run generation jobs token by token.

Everything here is synchronous and meant to run in one worker thread; callers on an event loop
use :class:`router.backends.local.LocalBackend` (which batches requests through
:class:`local_backend.batching.BatchScheduler`). One :meth:`LocalEngine.run` decodes a batch of
jobs together: each distinct prompt is prefilled once and its KV cache expanded across its samples
(prefix sharing). Generation stops per sequence at the token cap, an end-of-sequence token or a stop
sequence, and for all of a job's sequences at its deadline or when its cancel event is set.
Budget forcing, the TIP thought-switch penalty and step-wise generation for search ride on the
same loop (:mod:`local_backend.budget_forcing`, :mod:`local_backend.tip`, :mod:`local_backend.stepwise`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from local_backend.decoding import Row, TokenProcessor, decode, prefill
from local_backend.jobs import Job, PlannedJob, finish_job, plan_job
from local_backend.model_source import ResolvedModel, resolve_model, write_converted_cache
from local_backend.params import EngineResult, SampleOutput, SamplingParams
from local_backend.stepwise import StepResult, step_job, step_results
from local_backend.tip import ThoughtSwitchConfig, ThoughtSwitchPenalty

__all__ = ["EngineResult", "Job", "LocalEngine", "SampleOutput", "SamplingParams", "StepResult", "pick_device"]

log = logging.getLogger("local_backend.engine")


def pick_device(device: str = "auto", dtype: str = "auto") -> tuple[str, torch.dtype]:
    """CUDA with bf16 when available, else CPU float32; either can be forced."""
    chosen = device
    if device == "auto":
        if torch.cuda.is_available():
            chosen = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            chosen = "mps"
        else:
            chosen = "cpu"
    if dtype == "auto":
        return chosen, torch.bfloat16 if chosen == "cuda" else torch.float32
    return chosen, getattr(torch, dtype)


@dataclass
class LocalEngine:
    """A loaded causal LM and its tokenizer; not thread-safe, serialise calls (one worker thread)."""

    model: Any
    tokenizer: Any
    device: str
    name: str
    load_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    share_prefix: bool = True
    _penalties: dict[ThoughtSwitchConfig, ThoughtSwitchPenalty] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, spec: str = "bundled", device: str = "auto", dtype: str = "auto",
             threads: int | None = None) -> LocalEngine:  # fmt: skip
        """Load a model once; logs load time and memory."""
        started = time.monotonic()
        torch.set_num_threads(threads or os.cpu_count() or 1)
        resolved = resolve_model(spec)
        chosen, torch_dtype = pick_device(device, dtype)
        model, tokenizer = _load_weights(resolved, torch_dtype)
        model.to(chosen)
        model.eval()
        seconds = time.monotonic() - started
        params = sum(p.numel() for p in model.parameters())
        memory_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
        log.info(
            "model %s loaded on %s (%s) in %.1f s: %.0fM parameters, %.0f MiB of weights",
            resolved.name, chosen, torch_dtype, seconds, params / 1e6, memory_mb,
        )  # fmt: skip
        info = {"parameters": params, "weights_mib": round(memory_mb), "dtype": str(torch_dtype)}
        return cls(model, tokenizer, chosen, resolved.name, seconds, info)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as this model counts them (with the BOS token)."""
        return len(self.tokenizer(text).input_ids)

    def generate(
        self,
        prompt: str,
        params: SamplingParams,
        *,
        cancel: threading.Event | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> EngineResult:
        """Sample ``params.n`` continuations of ``prompt`` (one prefill, expanded across the samples)."""
        return self.run([Job(prompt, params, cancel=cancel, on_text=on_text)])[0]

    def step(
        self,
        prompt: str,
        *,
        prefixes: Sequence[str] = ("",),
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
    ) -> list[StepResult]:
        """Continue ``prompt + prefix`` for each prefix, ``k`` branches each, up to the next ``delimiter``.

        Results come prefix by prefix, branch by branch, with text, token counts and logprobs.
        """
        job = step_job(prompt, prefixes, k=k, delimiter=delimiter, max_tokens=max_tokens, temperature=temperature,
                       top_p=top_p, seed=seed, stop=stop, deadline=deadline, cancel=cancel,
                       processors=processors)  # fmt: skip
        return step_results(job, self.run([job])[0], delimiter)

    def run(
        self, jobs: Sequence[Job], on_result: Callable[[int, EngineResult], None] | None = None
    ) -> list[EngineResult]:  # fmt: skip
        """Decode several jobs as one batch; one result per job, in order.

        Identical prompts (within and across jobs) are prefilled once unless ``share_prefix`` is off,
        in which case every sample prefills its own copy (the reference the shared path must match).
        ``on_result(i, result)`` is called as soon as every sequence of job ``i`` has ended, while the
        rest of the batch goes on (so a short answer need not wait for the batch's longest).
        """
        started = time.monotonic()
        eos = self.eos_ids()
        planned = [plan_job(j, self.tokenizer, eos, self.device, self._processors(j.params)) for j in jobs]
        prompts, prefilled = self._assign_prompts(planned)
        specs = [spec for p in planned for spec in p.specs]
        owner = {id(spec): j for j, p in enumerate(planned) for spec in p.specs}
        finished: dict[int, list[Row]] = {j: [] for j in range(len(planned))}
        results: dict[int, EngineResult] = {}

        def result_of(j: int, rows: list[Row]) -> EngineResult:
            p = planned[j]
            samples = finish_job(p, rows, self.tokenizer)
            lengths = [len(ids) for ids in p.prompts]
            seconds = time.monotonic() - started
            return EngineResult(samples, sum(lengths), seconds, prefilled[j], len(specs), lengths)

        def row_done(row: Row) -> None:
            j = owner[id(row.spec)]
            finished[j].append(row)
            if len(finished[j]) == len(planned[j].specs):
                order = {id(spec): k for k, spec in enumerate(planned[j].specs)}
                results[j] = result_of(j, sorted(finished[j], key=lambda r: order[id(r.spec)]))
                if on_result is not None:
                    on_result(j, results[j])

        with torch.inference_mode():
            decode(self.model, prefill(self.model, prompts, self.pad_id), specs, row_done)
        return [results[j] for j in range(len(planned))]

    def _assign_prompts(self, planned: list[PlannedJob]) -> tuple[list[list[int]], list[int]]:
        """The distinct prompts to prefill (row specs re-pointed at them) and the prefill tokens each job added."""
        distinct: dict[tuple[int, ...], int] = {}
        prompts: list[list[int]] = []
        added: list[int] = []
        for p in planned:
            fresh = 0
            for spec in p.specs:
                ids = p.prompts[spec.prompt]
                key = tuple(ids) if self.share_prefix else (len(prompts), *ids)
                if key not in distinct:
                    distinct[key] = len(prompts)
                    prompts.append(ids)
                    fresh += len(ids)
                spec.prompt = distinct[key]
            added.append(fresh)
        return prompts, added

    def _processors(self, params: SamplingParams) -> tuple[TokenProcessor, ...]:
        config: ThoughtSwitchConfig | None = params.thought_switch
        if config is None:
            return ()
        if config not in self._penalties:
            self._penalties[config] = ThoughtSwitchPenalty.from_config(config, self.tokenizer)
        return (self._penalties[config],)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else (self.tokenizer.eos_token_id or 0))

    def eos_ids(self) -> set[int]:
        """Token ids that end a sequence (the model's and the tokenizer's)."""
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids


def _load_weights(resolved: ResolvedModel, torch_dtype: torch.dtype) -> tuple[Any, Any]:
    if resolved.gguf_file and resolved.has_converted_cache:
        directory = str(resolved.converted_dir)
        log.info("loading converted cache %s", directory)
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch_dtype)
        return model, tokenizer
    directory = str(resolved.directory)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=resolved.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=resolved.gguf_file, dtype=torch_dtype)
    if resolved.gguf_file:
        try:
            write_converted_cache(resolved, model, tokenizer)
        except OSError as exc:  # a read-only cache only costs the next start its speed
            log.warning("could not cache the converted model: %s", exc)
    return model, tokenizer
