"""``thinkroute classify`` and ``thinkroute classifier train|eval``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["classifier_app", "classify_command"]

classifier_app = typer.Typer(help="Train and evaluate the difficulty classifier.", no_args_is_help=True)


def _prompt_of(record: dict[str, Any]) -> str:
    if isinstance(record.get("prompt"), str):
        return str(record["prompt"])
    if isinstance(record.get("text"), str):
        return str(record["text"])
    for message in record.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    raise ValueError("no 'prompt', 'text' or user message in 'messages'")


def classify_command(
    prompt: Annotated[str | None, typer.Argument(help="The prompt to classify.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="JSONL with prompt / text / messages.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per prompt.")] = False,
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the committed one).")] = None,
) -> None:
    """Print easy / medium / hard probabilities, the bucket and the scalar difficulty of prompts."""
    from classifiers.scorer import DifficultyScorer

    if (prompt is None) == (file is None):
        typer.echo("error: give a PROMPT or --file", err=True)
        raise typer.Exit(2)
    scorer = DifficultyScorer.load(model)
    if prompt is not None:
        _print_scores([scorer.score_batch([prompt])[0]], as_json)
        return
    lines = Path(file).read_text(encoding="utf-8").splitlines()  # type: ignore[arg-type]
    texts: list[str] = []
    errors: dict[int, str] = {}  # input line index -> why it has no score
    for index, line in enumerate(lines):
        try:
            if not line.strip():
                raise ValueError("empty line")
            texts.append(_prompt_of(json.loads(line)))
        except (ValueError, AttributeError, TypeError) as exc:
            errors[index] = str(exc)
    scores = iter(scorer.score_batch(texts))
    for index in range(len(lines)):  # one output line per input line, in order
        if index in errors:
            typer.echo(f"error: {file}:{index + 1}: {errors[index]}", err=True)
            if as_json:
                typer.echo(json.dumps({"line": index + 1, "error": errors[index]}))
            continue
        _print_scores([next(scores)], as_json)
    if errors:
        raise typer.Exit(1)


def _print_scores(scores: list[Any], as_json: bool) -> None:
    for score in scores:
        if as_json:
            typer.echo(json.dumps(score.to_dict()))
        else:
            p = score.probabilities
            typer.echo(f"easy {p['easy']:.3f}  medium {p['medium']:.3f}  hard {p['hard']:.3f}  "
                       f"→ {score.bucket} (difficulty {score.difficulty:.3f})")  # fmt: skip


@classifier_app.command("train")
def train_command(
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic for a seed).")] = 13,
    output: Annotated[Path | None, typer.Option(help="Where to write the ONNX model.")] = None,
    shared_data: Annotated[Path | None, typer.Option(help="Rebuild the dataset from shared/data first.")] = None,
) -> None:
    """Rebuild classifiers/models/difficulty.onnx from the committed dataset."""
    from classifiers.dataset import build_dataset, load_dataset
    from classifiers.training import MODEL_PATH, export_onnx, train

    if shared_data is not None:
        counts = build_dataset(shared_data)
        typer.echo(f"dataset rebuilt: {sum(counts.values())} rows from {len(counts)} sources")
    rows = load_dataset()
    trained = train(rows, seed=seed)
    meta = {"thinkroute.trained_on": f"{len(rows)} rows", "thinkroute.seed": str(seed),
            "thinkroute.date": dt.date.today().isoformat()}  # fmt: skip
    digest = export_onnx(trained, output or MODEL_PATH, meta)
    typer.echo(f"wrote {output or MODEL_PATH} (sha256 {digest})")


@classifier_app.command("eval")
def eval_command(
    quick: Annotated[bool, typer.Option(help="Row split only (skip leave-one-source-out and the baseline).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Row-held-out and leave-one-source-out AUC, macro-F1, ECE and confusion matrices."""
    from classifiers.dataset import load_dataset
    from classifiers.evaluation import evaluate

    report = evaluate(load_dataset(), include_lofo=not quick, include_baseline=not quick)
    if as_json:
        typer.echo(json.dumps(report))
        return
    for name, section in report.items():
        typer.echo(f"== {name}")
        for key in ("auc_hard_vs_easy", "macro_f1", "ece", "mean_family_auc", "rows"):
            if key in section:
                typer.echo(f"  {key:<18} {section[key]:.4f}" if isinstance(section[key], float) else
                           f"  {key:<18} {section[key]}")  # fmt: skip
        typer.echo("  confusion (rows = truth easy/medium/hard, columns = predicted):")
        for row in section["confusion"]:
            typer.echo("    " + " ".join(f"{v:6d}" for v in row))
        for family, auc in sorted(section.get("per_family_auc", {}).items()):
            typer.echo(f"    held out {family:<22} AUC {auc:.4f}")
    sys.stdout.flush()
