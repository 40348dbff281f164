"""``thinkroute calibrate``: measure every candidate of a route on your data and write its profiles."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from router.calibration import CalibrationResult, Outcome
    from router.planner import Candidate

__all__ = ["calibrate_command"]

DEFAULT_POLICY = Path("policies/default.yaml")
DATA_HELP = "kind:PATH (gsm8k, math, svamp, asdiv, humaneval, nq, jsonl) or a generic JSONL path; repeatable."


def _qualities(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"not a comma-separated list of numbers: {text!r}") from None
    if not values or any(not 0 <= v <= 1 for v in values):
        raise typer.BadParameter("quality bars must lie in [0, 1]")
    return values


def calibrate_command(
    data: Annotated[list[str], typer.Option("--data", "-d", help=DATA_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Profiles YAML to write (reference it as profiles_file).")],
    policy: Annotated[Path, typer.Option("--policy", "-p", envvar="THINKROUTE_POLICY")] = DEFAULT_POLICY,
    route: Annotated[str, typer.Option(help="Route whose candidates are measured.")] = "auto",
    limit: Annotated[int | None, typer.Option(help="Use the first N items of each --data.", min=1)] = None,
    cache: Annotated[Path, typer.Option(help="Sample cache directory (reruns replay from it).")] = Path(
        ".thinkroute-cache"
    ),
    report: Annotated[Path | None, typer.Option(help="Write report.md and PNG plots into this directory.")] = None,
    method: Annotated[str, typer.Option(help="Quality fit: logistic or isotonic.")] = "logistic",
    replay: Annotated[bool, typer.Option("--replay", help="Only replay cached calls; never load a model.")] = False,
    concurrency: Annotated[int, typer.Option(help="Items in flight at once (latency is per call).", min=1)] = 1,
    qualities: Annotated[str, typer.Option(help="min_quality bars for the report's router sweep.")] = (
        "0,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,1"
    ),
) -> None:
    """Run every candidate (strategy × parameters) of ROUTE over the data, fit quality vs difficulty, write profiles."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from router.calibration import CacheMiss, CalibrationJob, calibrate
    from router.errors import PolicyError, ThinkrouteError

    if method not in ("logistic", "isotonic"):
        raise typer.BadParameter("--method must be logistic or isotonic")
    job = CalibrationJob(policy=policy, data=data, cache=cache, out=out, route=route, limit=limit, report=report,
                         method=cast(Literal["logistic", "isotonic"], method), replay=replay,
                         concurrency=concurrency, qualities=_qualities(qualities))  # fmt: skip
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("loading", total=None, status="")
        tally = {"done": 0, "correct": 0}

        def started(items: int, candidates: list[Candidate]) -> None:
            progress.update(task, description="calibrating", total=items * len(candidates))

        def finished(outcome: Outcome) -> None:
            tally["done"] += 1
            tally["correct"] += outcome.correct
            status = f"{escape(outcome.candidate)}  correct {tally['correct']}/{tally['done']}"
            progress.update(task, advance=1, status=status)

        try:
            result = asyncio.run(calibrate(job, on_start=started, on_result=finished))
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]: finished calls are in {cache}; rerun the same command to resume")
            raise typer.Exit(130) from None
        except CacheMiss as exc:
            console.print(f"[red]{exc.message}[/]")
            raise typer.Exit(2) from None
        except (PolicyError, ThinkrouteError, ValueError, FileNotFoundError) as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from None
    _summary(console, result)


def _summary(console: Console, result: CalibrationResult) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table("candidate", "accuracy", "tokens (mean)", "cost (mean $)", "p95 ms")
    for point in result.fixed:
        table.add_row(escape(point.label), f"{100 * point.accuracy:.1f}%", f"{point.mean_tokens:.1f}",
                      f"{point.mean_cost_usd:.3g}", f"{point.latency_p95_ms:.0f}")  # fmt: skip
    console.print(table)
    console.print(f"wrote {len(result.profiles)} profiles for {len(result.items)} items (data sha256 "
                  f"{result.data_sha256[:16]}…)" + (f"; report {result.report}" if result.report else ""))  # fmt: skip
