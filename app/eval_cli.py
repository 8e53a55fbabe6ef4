"""`longwrite eval`: LongBench-Write, LongWrite-Ruler and comparisons of runs."""

from pathlib import Path

import click

from app.options import judge_options, model_options, stack_options, threads_option
from engine.errors import UserError

# The benchmark runners' options: input, mode, model, limit, output, resume.
_generation_options = stack_options(
    [
        click.option(
            "--input",
            "input_path",
            required=True,
            type=click.Path(path_type=str),
            help="Benchmark JSONL file (prompt, type, length per line).",
        ),
        click.option(
            "--mode",
            type=click.Choice(["agentwrite", "single"]),
            default="agentwrite",
            show_default=True,
            help="Plan and write section by section, or answer in one pass.",
        ),
        model_options,
        threads_option,
        click.option("--limit", type=click.IntRange(1), help="Only the first N rows of the file."),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            help="Run directory (default: eval-runs/<benchmark>-<mode>).",
        ),
        click.option("--resume", is_flag=True, help="Continue the run in --out where it stopped."),
    ]
)


@click.group("eval")
def eval_group() -> None:
    """Evaluate long-form writing: length score S_l, judged quality S_q, plots and reports."""


@eval_group.command()
@_generation_options
@judge_options
def longbench(
    input_path,
    mode,
    load,
    limit,
    out,
    resume,
    judge,
):
    """LongBench-Write: S_l per row (S_q too with a judge), by length bucket, type and language."""
    from training.eval.runner import JudgeOptions, run_benchmark

    out = out or Path("eval-runs") / f"longbench-{mode}"
    chosen = JudgeOptions(judge.base_url, judge.model_name, judge.gguf)
    _run(
        lambda: run_benchmark("longbench", input_path, mode, load, out, limit, resume, chosen), out
    )


@eval_group.command()
@_generation_options
def ruler(input_path, mode, load, limit, out, resume):
    """LongWrite-Ruler: the longest and median output reached at each required length."""
    from training.eval.runner import run_benchmark

    out = out or Path("eval-runs") / f"ruler-{mode}"
    _run(lambda: run_benchmark("ruler", input_path, mode, load, out, limit, resume), out)


@eval_group.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("eval-runs/compare"),
    show_default=True,
    help="Where compare.md and compare.png go.",
)
def compare(run_dirs, out):
    """One table and one plot across run directories (models, modes, checkpoints)."""
    from training.eval.runner import compare_runs

    click.echo(compare_runs(list(run_dirs), out))
    click.echo(f"\nTable and plot written to {out}.", err=True)


def _run(action, out: Path) -> None:
    """Run a benchmark; Ctrl-C stops it with every finished row saved."""
    try:
        report = action()
    except KeyboardInterrupt:
        raise UserError(key="error.eval_stopped", path=out) from None
    if report is None:
        click.echo(f"No answers yet in {out}.", err=True)
        return
    click.echo(report.read_text(encoding="utf-8"))
    click.echo(f"Report, scores.json and plot written to {out}.", err=True)
