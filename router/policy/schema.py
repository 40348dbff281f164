"""The policy file schema: typed, strict (``extra="forbid"``), with discriminated unions on ``type``.

A policy names backends (where models run), strategies (how hard to think, with the parameter
grid the planner may choose from), routes (the model aliases clients call), tenants, profiles
(measured quality/latency/cost per candidate), the classifier, telemetry and limits.
Validators here never do I/O; cross-references are checked in :func:`Policy.check_references`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.budgets.config import BudgetLimit, BudgetsConfig

__all__ = [
    "BackendConfig",
    "BeamSearchConfig",
    "BestOfNConfig",
    "BoundedReasoningConfig",
    "ChainOfDraftConfig",
    "ClassifierConfig",
    "LimitsConfig",
    "LiteLLMBackendConfig",
    "LocalBackendConfig",
    "OnlineFeedbackConfig",
    "OpenAICompatibleBackendConfig",
    "Policy",
    "Price",
    "ProfileEntry",
    "QualityCurve",
    "RevisionConfig",
    "RouteConfig",
    "SLODefaults",
    "ServerConfig",
    "SinglePassConfig",
    "StoppingRuleConfig",
    "StrategyConfig",
    "TelemetryConfig",
    "TenantPolicy",
]

Bucket = Literal["easy", "medium", "hard"]


class StrictModel(BaseModel):
    """Base for every policy model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(StrictModel):
    """USD per million tokens, and optionally per GPU-second for self-hosted models."""

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)
    gpu_second_usd: float = Field(0.0, ge=0)


class SpeedModel(StrictModel):
    """Throughput assumptions used by the planner's latency model until calibration measures them."""

    prefill_tokens_per_s: float = Field(2000.0, gt=0)
    decode_tokens_per_s: float = Field(50.0, gt=0)
    overhead_ms: float = Field(5.0, ge=0)
    parallel_sequences: int = Field(8, ge=1, description="Sequences decoded together at full speed.")


class _BackendBase(StrictModel):
    price: Price | None = None
    speed: SpeedModel = SpeedModel()
    max_concurrency: int = Field(16, ge=1)
    timeout_s: float = Field(120.0, gt=0)


class LocalBackendConfig(_BackendBase):
    """The in-process transformers backend (the bundled Gemma 3 270M by default)."""

    type: Literal["local"]
    model: str = Field("bundled", description="'bundled', a Hugging Face model directory, or a .gguf file.")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_batch_size: int = Field(8, ge=1)
    batch_wait_ms: float = Field(5.0, ge=0)
    max_queue: int = Field(64, ge=1)
    threads: int | None = Field(None, ge=1)


ReasoningKnob = Literal["auto", "none", "reasoning_effort", "thinking_budget"]


class _RemoteBackendBase(_BackendBase):
    api_key_env: str | None = Field(
        None, description="Name of the environment variable holding the API key (never the key itself)."
    )
    max_retries: int = Field(2, ge=0, description="Retries on 429, 5xx, timeouts and connection errors.")
    retry_backoff_s: float = Field(0.25, gt=0, description="First retry delay; doubles per retry, full jitter.")
    retry_backoff_max_s: float = Field(8.0, gt=0, description="Largest delay between retries.")
    fallbacks: list[str] = Field(
        default_factory=list, description="Backend names tried, in order, when this one fails or cools down."
    )
    cooldown_after: int = Field(3, ge=1, description="Consecutive failed calls that put the backend in cooldown.")
    cooldown_s: float = Field(30.0, ge=0, description="How long a cooled-down backend is skipped.")
    reasoning: ReasoningKnob = Field(
        "auto",
        description="How a thinking budget reaches the model: `reasoning_effort`, thinking `budget_tokens`, "
        "`none` (prompted), or `auto` (by provider).",
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers (no secrets here: keys come from api_key_env)."
    )


class OpenAICompatibleBackendConfig(_RemoteBackendBase):
    """A self-hosted OpenAI-compatible server (vLLM, SGLang, thinkroute's local backend) on the lean path."""

    type: Literal["openai_compatible"]
    api_base: str = Field(description="Base URL including the version path, e.g. `http://vllm:8000/v1`.")
    model: str
    native_n: bool = Field(True, description="The server honours `n` > 1 (vLLM, SGLang do).")


class LiteLLMBackendConfig(_RemoteBackendBase):
    """A hosted provider model through LiteLLM (``openai/...``, ``anthropic/...``, ``hosted_vllm/...``)."""

    type: Literal["litellm"]
    model: str
    api_base: str | None = None


BackendConfig = Annotated[
    LocalBackendConfig | OpenAICompatibleBackendConfig | LiteLLMBackendConfig,
    Field(discriminator="type"),
]


class StoppingRuleConfig(StrictModel):
    """An early-stopping rule for sampling strategies (see ``router.stopping``)."""

    rule: str
    params: dict[str, float | int] = Field(default_factory=dict)


class _StrategyBase(StrictModel):
    backend: str
    max_tokens: int = Field(256, ge=1, description="Answer token cap per sample.")
    temperature: float = Field(0.0, ge=0, le=2)


class SinglePassConfig(_StrategyBase):
    """One completion."""

    type: Literal["single_pass"]


class ChainOfDraftConfig(_StrategyBase):
    """Concise drafts per step, then the answer."""

    type: Literal["chain_of_draft"]
    words_per_step: int = Field(5, ge=1)
    draft_tokens: list[int] = Field(default_factory=lambda: [64], min_length=1)


class BoundedReasoningConfig(_StrategyBase):
    """A thinking budget: provider knobs or s1-style budget forcing on the local backend."""

    type: Literal["bounded_reasoning"]
    thinking_budgets: list[int] = Field(default_factory=lambda: [128, 512], min_length=1)
    min_thinking_ratio: float = Field(0.25, ge=0, le=1, description="Minimum thinking as a share of the budget.")
    wait_token: str = "Wait"
    max_waits: int = Field(2, ge=0)


class BestOfNConfig(_StrategyBase):
    """Sample in waves, score with a verifier, vote; stop early when more samples stop paying."""

    type: Literal["best_of_n"]
    n_values: list[int] = Field(default_factory=lambda: [4, 8], min_length=1)
    wave_size: int = Field(4, ge=1)
    min_samples: int = Field(2, ge=1)
    verifier: str = "vote"
    stopping: list[StoppingRuleConfig] = Field(
        default_factory=lambda: [StoppingRuleConfig(rule="beta", params={"confidence": 0.95})]
    )
    temperature: float = Field(0.7, ge=0, le=2)


class RevisionConfig(_StrategyBase):
    """Generate, critique, revise; stop when the verifier's gain falls below epsilon."""

    type: Literal["revision"]
    max_rounds: list[int] = Field(default_factory=lambda: [2], min_length=1)
    epsilon: float = Field(0.02, ge=0)
    verifier: str = "llm_judge"
    judge_backend: str | None = None


class BeamSearchConfig(_StrategyBase):
    """Step-wise search scored by a process reward model (local backend)."""

    type: Literal["beam_search"]
    beam_widths: list[int] = Field(default_factory=lambda: [2], min_length=1)
    expansions: int = Field(2, ge=1)
    max_steps: int = Field(6, ge=1)
    step_delimiter: str = "\n"
    step_max_tokens: int = Field(48, ge=1)
    verifier: str = "llm_judge"
    temperature: float = Field(0.7, ge=0, le=2)


StrategyConfig = Annotated[
    SinglePassConfig | ChainOfDraftConfig | BoundedReasoningConfig | BestOfNConfig | RevisionConfig | BeamSearchConfig,
    Field(discriminator="type"),
]


class SLODefaults(StrictModel):
    """Service-level objectives; any may be left out (no constraint)."""

    latency_ms: float | None = Field(None, gt=0)
    max_cost_usd: float | None = Field(None, ge=0)
    min_quality: float | None = Field(None, ge=0, le=1)


class RouteConfig(StrictModel):
    """A model alias clients call, the strategies the planner may pick for it, and its defaults."""

    description: str = ""
    strategies: list[str] = Field(min_length=1)
    slo: SLODefaults = SLODefaults()
    max_tokens_cap: int = Field(1024, ge=1, description="Largest max_tokens a client may ask for.")
    default_max_tokens: int = Field(256, ge=1)
    fallback_strategies: list[str] = Field(
        default_factory=list,
        description="Strategies tried in order (at their cheapest setting) when the chosen plan's backends fail.",
    )


class TenantPolicy(StrictModel):
    """A tenant: SLO defaults, allowed routes, budgets and rate limits, keys (as hashes), parent org."""

    slo: SLODefaults = SLODefaults()
    routes: list[str] | None = Field(None, description="Routes this tenant may call; all when unset.")
    limits: list[BudgetLimit] = Field(default_factory=list)
    rpm: int | None = Field(None, ge=1, description="Requests per minute.")
    tpm: int | None = Field(None, ge=1, description="Tokens (prompt + completion, worst case) per minute.")
    parent: str | None = Field(None, description="An org/team tenant whose limits also apply.")
    api_key_hashes: list[str] = Field(default_factory=list, description="sha256 hex of keys (`thinkroute keys hash`).")


class QualityCurve(StrictModel):
    """Predicted P(acceptable answer) by difficulty: bucket centres or explicit points, interpolated."""

    easy: float | None = Field(None, ge=0, le=1)
    medium: float | None = Field(None, ge=0, le=1)
    hard: float | None = Field(None, ge=0, le=1)
    points: list[tuple[float, float]] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> QualityCurve:
        buckets = [self.easy, self.medium, self.hard]
        if self.points is None and any(b is None for b in buckets):
            raise ValueError("give either all of easy/medium/hard or points")
        for d, q in self.points or []:
            if not (0 <= d <= 1 and 0 <= q <= 1):
                raise ValueError("points must be (difficulty, quality) pairs within [0, 1]")
        return self


class ProfileEntry(StrictModel):
    """Measured behaviour of one candidate (a strategy at one parameter setting)."""

    strategy: str
    params: dict[str, int | float | str] = Field(default_factory=dict)
    quality: QualityCurve
    completion_tokens_mean: float | None = Field(None, ge=0)
    completion_tokens_p95: float | None = Field(None, ge=0)
    latency_ms_p50: float | None = Field(None, ge=0)
    latency_ms_p95: float | None = Field(None, ge=0)
    samples: int | None = Field(None, ge=0, description="Evaluation items behind the estimate.")
    source: str | None = Field(None, description="Where the numbers came from (data hash, date).")


class OnlineFeedbackConfig(StrictModel):
    """Serve-time verifier outcomes nudge profiles (``router.calibration.online``); off by default."""

    enabled: bool = False
    frozen: bool = Field(False, description="Keep the current estimates; ignore new outcomes.")
    rate: float = Field(0.05, gt=0, le=1, description="Weight of one outcome in the exponentially-weighted estimate.")
    max_step: float = Field(0.02, gt=0, le=1, description="Largest change one outcome may make.")


class ClassifierConfig(StrictModel):
    """The difficulty classifier; the committed ONNX model by default."""

    enabled: bool = True
    model_path: str | None = None


class TelemetryConfig(StrictModel):
    """Traces, metrics and logs."""

    traces: bool = False
    otlp: bool = Field(False, description="Export via OTLP using the standard OTEL_EXPORTER_OTLP_* env vars.")
    sample_ratio: float = Field(1.0, ge=0, le=1)
    record_content: bool = Field(False, description="Record prompt and completion text in spans.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class LimitsConfig(StrictModel):
    """Protective limits of the HTTP server."""

    max_body_bytes: int = Field(1_048_576, ge=1024)
    request_timeout_s: float = Field(300.0, gt=0)
    max_n: int = Field(16, ge=1)


class ServerConfig(StrictModel):
    """Defaults for ``thinkroute serve`` (command-line flags win)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class Policy(StrictModel):
    """A whole policy file."""

    version: Literal[1] = 1
    backends: dict[str, BackendConfig] = Field(min_length=1)
    strategies: dict[str, StrategyConfig] = Field(min_length=1)
    routes: dict[str, RouteConfig] = Field(min_length=1)
    tenants: dict[str, TenantPolicy] = Field(default_factory=dict)
    profiles: list[ProfileEntry] = Field(default_factory=list)
    profiles_file: str | None = Field(
        None, description="A profiles YAML (`thinkroute calibrate --out`), relative to this file; its entries win."
    )
    online_feedback: OnlineFeedbackConfig = OnlineFeedbackConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    limits: LimitsConfig = LimitsConfig()
    server: ServerConfig = ServerConfig()
    budgets: BudgetsConfig = BudgetsConfig()

    def check_references(self) -> list[str]:
        """Cross-reference errors as ``path: message`` lines (empty when consistent)."""
        errors: list[str] = []
        for name, strategy in self.strategies.items():
            if strategy.backend not in self.backends:
                errors.append(f"strategies.{name}.backend: unknown backend {strategy.backend!r}")
            judge = getattr(strategy, "judge_backend", None)
            if judge is not None and judge not in self.backends:
                errors.append(f"strategies.{name}.judge_backend: unknown backend {judge!r}")
        for name, backend in self.backends.items():
            for i, fallback in enumerate(getattr(backend, "fallbacks", [])):
                if fallback not in self.backends:
                    errors.append(f"backends.{name}.fallbacks[{i}]: unknown backend {fallback!r}")
                elif fallback == name:
                    errors.append(f"backends.{name}.fallbacks[{i}]: a backend cannot fall back to itself")
        for name, route in self.routes.items():
            for i, strategy_name in enumerate(route.strategies):
                if strategy_name not in self.strategies:
                    errors.append(f"routes.{name}.strategies[{i}]: unknown strategy {strategy_name!r}")
            for i, strategy_name in enumerate(route.fallback_strategies):
                if strategy_name not in self.strategies:
                    errors.append(f"routes.{name}.fallback_strategies[{i}]: unknown strategy {strategy_name!r}")
            if route.default_max_tokens > route.max_tokens_cap:
                errors.append(f"routes.{name}.default_max_tokens: exceeds max_tokens_cap ({route.max_tokens_cap})")
        for name, tenant in self.tenants.items():
            if tenant.parent is not None and tenant.parent not in self.tenants:
                errors.append(f"tenants.{name}.parent: unknown tenant {tenant.parent!r}")
            for i, route_name in enumerate(tenant.routes or []):
                if route_name not in self.routes:
                    errors.append(f"tenants.{name}.routes[{i}]: unknown route {route_name!r}")
        for i, profile in enumerate(self.profiles):
            if profile.strategy not in self.strategies:
                errors.append(f"profiles[{i}].strategy: unknown strategy {profile.strategy!r}")
        return errors
