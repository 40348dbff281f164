"""A tiny randomly initialised Gemma 3 engine for fast, deterministic local backend tests.

The tiny model has 2 layers (one sliding-window layer with a window of 8 tokens, so prompts overflow
it, and one full-attention layer), hidden size 64, and a 300-token byte-level BPE vocabulary trained
here with native ``<think>``/``</think>`` tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

from local_backend.engine import LocalEngine

_CORPUS = [
    "Q: What is 12 + 7?\nReasoning: 12 + 7 = 19.\nAnswer: 19\n\n",
    "Wait, let me check. Alternatively, we could add the numbers again.\n\n",
    "The quick brown fox jumps over the lazy dog.\n\n",
    "Step 1: add the numbers. Step 2: check the result.\n\n",
]
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<think>", "</think>"]


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: for a model this small, more threads only add synchronisation,
    which costs seconds per test when other jobs load the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=1)
def build_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 20, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


@lru_cache(maxsize=4)
def tiny_model(seed: int = 0, sliding_window: int = 8) -> Gemma3ForCausalLM:
    """The tiny model with weights drawn from ``seed`` (built once, shared read-only)."""
    tokenizer = build_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        sliding_window=sliding_window,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    torch.manual_seed(seed)
    return Gemma3ForCausalLM(config).eval()


def build_tiny_engine(seed: int = 0, sliding_window: int = 8) -> LocalEngine:
    """A fresh engine over the shared tiny model (engine settings such as ``share_prefix`` are its own)."""
    return LocalEngine(tiny_model(seed, sliding_window), build_tokenizer(), "cpu", "tiny-gemma3")


class Force:
    """A scripted logits processor: from generated length ``at`` on, force ``ids`` one by one (once)."""

    def __init__(self, ids: Sequence[int], at: int) -> None:
        self.ids = list(ids)
        self.at = at
        self.done = 0

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor:
        if len(generated) < self.at or self.done >= len(self.ids):
            return logits
        forced = torch.full_like(logits, float("-inf"))
        forced[self.ids[self.done]] = 0.0
        self.done += 1
        return forced


class ForceAt:
    """A stateless scripted logits processor: every row writes ``ids`` starting at generated length ``at``."""

    def __init__(self, ids: Sequence[int], at: int) -> None:
        self.ids = list(ids)
        self.at = at

    def __call__(self, generated: Sequence[int], logits: torch.Tensor) -> torch.Tensor:
        offset = len(generated) - self.at
        if not 0 <= offset < len(self.ids):
            return logits
        forced = torch.full_like(logits, float("-inf"))
        forced[self.ids[offset]] = 0.0
        return forced
