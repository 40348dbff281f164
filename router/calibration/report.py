"""The calibration report: Markdown tables and PNG plots (matplotlib, Agg backend, no display).

- ``accuracy_vs_cost.png``: each candidate's accuracy against its mean cost, the Pareto frontier
  of the candidates, and where the router's choices land for a sweep of ``min_quality``;
- ``quality_curves.png``: each fitted quality curve against difficulty, with the observed accuracy
  per difficulty bin;
- ``report.md``: the same numbers as tables.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from router.calibration.runner import OutcomeTable
from router.calibration.simulate import OperatingPoint, cost_axis, pareto_frontier
from router.errors import ThinkrouteError
from router.planner.candidates import params_key
from router.planner.predict import interpolate_quality
from router.policy.schema import ProfileEntry

__all__ = ["plot_accuracy_vs_cost", "plot_quality_curves", "points_table", "require_matplotlib", "write_report"]


def require_matplotlib() -> None:
    """Raise :class:`ThinkrouteError` unless matplotlib can be imported (checked before any model call)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ThinkrouteError("the calibration report needs matplotlib: pip install matplotlib") from None


def _cost_text(value: float, usd: bool) -> str:
    return f"${value:.3g}" if usd else f"{value:.1f}"


def points_table(points: Sequence[OperatingPoint], *, usd: bool, show_choices: bool = False) -> str:
    """A Markdown table of operating points."""
    head = "| | accuracy | mean tokens | mean cost | p50 latency ms | p95 latency ms | items |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if show_choices:
        head, rule = head + " choices |", rule + "---|"
    rows = [head, rule]
    for p in points:
        row = (f"| {p.label} | {100 * p.accuracy:.1f}% | {p.mean_tokens:.1f} | {_cost_text(p.mean_cost_usd, usd)} | "
               f"{p.latency_p50_ms:.0f} | {p.latency_p95_ms:.0f} | {p.items} |")  # fmt: skip
        if show_choices:
            row += " " + ", ".join(f"{k} {v}" for k, v in sorted(p.choices.items(), key=lambda kv: -kv[1])) + " |"
        rows.append(row)
    return "\n".join(rows)


def plot_accuracy_vs_cost(
    path: Path, candidates: Sequence[OperatingPoint], router: Sequence[OperatingPoint], title: str
) -> None:
    """Candidates, their Pareto frontier and the router's sweep on one accuracy-vs-cost plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, cost = cost_axis([*candidates, *router])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for p in candidates:
        ax.scatter(cost(p), 100 * p.accuracy, s=40, zorder=3)
        ax.annotate(p.label, (cost(p), 100 * p.accuracy), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front = pareto_frontier(candidates, cost)
    ax.plot([cost(p) for p in front], [100 * p.accuracy for p in front], "k--", lw=1, label="Pareto frontier (fixed)")
    if router:
        ordered = sorted(router, key=cost)
        ax.plot([cost(p) for p in ordered], [100 * p.accuracy for p in ordered], "o-", color="tab:red",
                ms=4, lw=1.5, label="thinkroute (min_quality sweep)", zorder=4)  # fmt: skip
        spots: dict[tuple[float, float], list[float]] = {}  # bars that land on the same point share one label
        for p in ordered:
            spots.setdefault((cost(p), 100 * p.accuracy), []).append(p.min_quality or 0.0)
        for (x, y), bars in spots.items():
            text = f"{min(bars):g}" if len(bars) == 1 else f"{min(bars):g}–{max(bars):g}"
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(-4, -11), fontsize=7, color="tab:red")
    ax.set_xlabel(label)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_quality_curves(
    path: Path, profiles: Sequence[ProfileEntry], table: OutcomeTable, difficulty: Mapping[str, float],
    item_ids: Sequence[str], bins: int = 5,
) -> None:  # fmt: skip
    """Fitted P(correct | difficulty) per candidate with the observed accuracy in equal-count difficulty bins
    (each dot at its items' mean difficulty)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    grid = np.linspace(0, 1, 101)
    # bins hold equal numbers of items (difficulty scores often crowd into a narrow band)
    scores = np.asarray([difficulty[i] for i in item_ids], dtype=float)
    edges = np.unique(np.quantile(scores, np.linspace(0, 1, bins + 1))) if len(scores) else np.asarray([0.0, 1.0])
    for i, profile in enumerate(profiles):
        key = f"{profile.strategy}{params_key(profile.params)}"
        colour = f"C{i % 10}"
        ax.plot(grid, [interpolate_quality(profile.quality, d) for d in grid], color=colour, label=key)
        outcomes = table.for_candidate(key, item_ids)
        x = np.asarray([difficulty[o.item_id] for o in outcomes])
        y = np.asarray([o.correct for o in outcomes], dtype=float)
        for lo, hi in itertools.pairwise(edges):
            inside = (x >= lo) & ((x < hi) | (hi == edges[-1]))
            if inside.sum() >= 3:
                ax.scatter(x[inside].mean(), y[inside].mean(), color=colour, s=12 + 2 * inside.sum(), alpha=0.6)
    ax.set_xlabel("classifier difficulty")
    ax.set_ylabel("P(correct)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Fitted quality curves (dots: observed accuracy per difficulty bin, size ~ items)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(
    directory: Path,
    *,
    title: str,
    header: Sequence[str],
    candidates: Sequence[OperatingPoint],
    router: Sequence[OperatingPoint],
    profiles: Sequence[ProfileEntry],
    table: OutcomeTable,
    difficulty: Mapping[str, float],
    item_ids: Sequence[str],
) -> Path:
    """Write ``report.md`` and its two plots into ``directory``; returns the Markdown path."""
    directory.mkdir(parents=True, exist_ok=True)
    usd = cost_axis([*candidates, *router])[0].endswith("(USD)")
    plot_accuracy_vs_cost(directory / "accuracy_vs_cost.png", candidates, router, title)
    plot_quality_curves(directory / "quality_curves.png", profiles, table, difficulty, item_ids)
    _, cost = cost_axis([*candidates, *router])
    front = ", ".join(p.label for p in pareto_frontier(candidates, cost))
    lines = [f"# {title}", "", *header, "", "## Candidates", "", points_table(candidates, usd=usd), "",
             f"Pareto frontier (fixed candidates): {front}", "", "![accuracy vs cost](accuracy_vs_cost.png)", "",
             "## Router, sweep of min_quality (on the same items)", "",
             points_table(router, usd=usd, show_choices=True), "",
             "## Quality curves", "", "![quality curves](quality_curves.png)", ""]  # fmt: skip
    path = directory / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
