"""The local transformers engine: load a model once, generate N samples or stream one.

Everything here is synchronous and meant to run in a worker thread; callers on an event loop
use :class:`router.backends.local.LocalBackend`. Generation stops at the token cap, at a stop
sequence (per sequence, so finished samples stop consuming compute), at the deadline, or when
the caller's cancel event is set.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from local_backend.model_source import ResolvedModel, resolve_model, write_converted_cache

__all__ = ["EngineResult", "LocalEngine", "SampleOutput", "SamplingParams", "pick_device"]

log = logging.getLogger("local_backend.engine")


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings for one call; ``deadline`` is a ``time.monotonic()`` instant."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    deadline: float | None = None
    logprobs: bool = False


@dataclass
class SampleOutput:
    """One generated sequence, cut at its stop sequence."""

    text: str
    token_ids: list[int]
    finish_reason: str
    logprobs: list[float] | None = None


@dataclass
class EngineResult:
    """The samples of one call; the prompt was prefilled once for all of them."""

    samples: list[SampleOutput]
    prompt_tokens: int
    seconds: float = 0.0


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


class _Stopper(StoppingCriteria):
    """Marks each sequence done at a stop sequence; stops all at the deadline or on cancel."""

    def __init__(
        self,
        tokenizer: Any,
        prompt_len: int,
        stops: tuple[str, ...],
        deadline: float | None,
        cancel: threading.Event | None,
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stops = stops
        self.deadline = deadline
        self.cancel = cancel
        self.reason: str | None = None
        self.window = max((len(s) for s in stops), default=0) + 8

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        batch = input_ids.shape[0]
        if self.cancel is not None and self.cancel.is_set():
            self.reason = "cancelled"
            return torch.ones(batch, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.reason = "deadline"
            return torch.ones(batch, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]
        done = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
        if self.stops:
            tail = input_ids[:, max(self.prompt_len, input_ids.shape[1] - self.window) :]
            for row, text in enumerate(self.tokenizer.batch_decode(tail, skip_special_tokens=True)):
                done[row] = any(stop in text for stop in self.stops)
        return done  # type: ignore[return-value]


class _TextStreamer(BaseStreamer):
    """Emits decoded text deltas of one sequence, holding back what might start a stop sequence."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], on_text: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.on_text = on_text
        self.ids: list[int] = []
        self.emitted = 0
        self.seen_prompt = False
        self.stopped = False

    def put(self, value: torch.Tensor) -> None:
        if not self.seen_prompt:
            self.seen_prompt = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        self._emit(final=False)

    def end(self) -> None:
        self._emit(final=True)

    def _emit(self, *, final: bool) -> None:
        if self.stopped:
            return
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = _first_stop(text, self.stops)
        if cut is not None:
            text, self.stopped = text[:cut], True
        elif not final:
            text = text[: len(text) - _partial_stop_suffix(text, self.stops)]
            if text.endswith("\ufffd"):  # an incomplete multi-byte character
                text = text.rstrip("\ufffd")
        if len(text) > self.emitted:
            self.on_text(text[self.emitted :])
            self.emitted = len(text)


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    positions = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(positions) if positions else None


def _partial_stop_suffix(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of some stop sequence."""
    best = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:k]):
                best = k
                break
    return best


@dataclass
class LocalEngine:
    """A loaded causal LM and its tokenizer; not thread-safe, serialise calls."""

    model: Any
    tokenizer: Any
    device: str
    name: str
    load_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

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
        """Sample ``params.n`` continuations of ``prompt`` (one prefill, expanded across the batch)."""
        started = time.monotonic()
        encoded = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        prompt_len = int(encoded.input_ids.shape[1])
        stopper = _Stopper(self.tokenizer, prompt_len, params.stop, params.deadline, cancel)
        streamer = _TextStreamer(self.tokenizer, params.stop, on_text) if on_text and params.n == 1 else None
        if params.seed is not None:
            torch.manual_seed(params.seed)
        sampling = params.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": sampling,
            "num_return_sequences": params.n,
            "stopping_criteria": StoppingCriteriaList([stopper]),
            "return_dict_in_generate": True,
            "output_logits": params.logprobs,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(**encoded, streamer=streamer, **kwargs)
        samples = [
            self._sample(out, row, prompt_len, params, stopper.reason) for row in range(out.sequences.shape[0])
        ]
        return EngineResult(samples, prompt_len, time.monotonic() - started)

    def _sample(
        self, out: Any, row: int, prompt_len: int, params: SamplingParams, interrupted: str | None
    ) -> SampleOutput:
        ids = out.sequences[row, prompt_len:].tolist()
        eos = self._eos_ids()
        length = next((i for i, t in enumerate(ids) if t in eos), None)
        finish = "stop" if length is not None else ("length" if len(ids) >= params.max_new_tokens else None)
        if length is not None:
            ids = ids[: length + 1]  # the end-of-sequence token was generated, so it counts
        else:
            pad = self.tokenizer.pad_token_id
            while ids and ids[-1] == pad:
                ids.pop()
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cut = _first_stop(text, params.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
        if finish is None:
            finish = interrupted or "length"
        logprobs = None
        if params.logprobs and out.logits is not None:
            steps = zip(out.logits, ids, strict=False)
            logprobs = [float(torch.log_softmax(step[row].float(), dim=-1)[tok]) for step, tok in steps]
        return SampleOutput(text=text, token_ids=ids, finish_reason=finish, logprobs=logprobs)

    def _eos_ids(self) -> set[int]:
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
