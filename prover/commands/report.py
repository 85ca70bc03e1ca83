"""`prover report`: summarise run folders of `prover prove` as a terminal table, and as an HTML page with --html."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from prover.command import UserError
from prover.commands.common import OutPath
from prover.run_report import (STATUSES, ReportError, Run, are_repeats, categories, compare, load_runs, pass_at_k,
                               summarize_run)

REPORT_HTML = "report.html"  # what `prover prove` writes into its run folder


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--html", "html_path", type=OutPath(dir_okay=False, path_type=Path),
              help="also write the report as one self-contained HTML page (plots, comparison, proofs, search trees)")
@click.option("--by-category", is_flag=True,
              help="also proved/attempted per category: a user's file's folder (e.g. a curriculum's family), "
                   "else miniF2F's problem source")
def report(runs, html_path, by_category):
    """Summarise the run folders RUNS written by `prover prove`; several runs of one benchmark are compared
    against the first."""
    try:
        loaded = load_runs(list(runs))
    except ReportError as exc:
        raise UserError(str(exc)) from None
    for run in loaded:
        if run.config.get("_warning"):
            click.echo(f"warning: {run.config['_warning']}", err=True)
    console = Console(highlight=False, soft_wrap=False)
    console.print(summary_table(loaded))
    for run in loaded:
        summary = summarize_run(run)
        click.echo(f"{run.label}: {summary.line()}")
        if summary.note:
            click.echo(f"note: {run.label}: {summary.note}")
    if len(loaded) == 1:
        for row in loaded[0].rows:
            if row["status"] == "proved":
                resting = f" (depends on open lemma {', '.join(row['depends_on'])})" if row.get("depends_on") else ""
                click.echo(f"  proved {row['name']}: {' '.join(map(str, row.get('proof') or []))}{resting}")
    else:
        console.print(comparison_table(loaded))
    if by_category:
        console.print(category_table(loaded))
    if html_path is not None:
        try:
            write_html(loaded, html_path)
        except OSError as exc:
            raise UserError(f"cannot write {html_path}: {exc.strerror or exc}") from None
        click.echo(f"report: {html_path}")


def write_html(runs: list[Run], path: Path) -> Path:
    from prover.report_html import write_report  # matplotlib and pygments load only when a page is asked for

    return write_report(runs, path)


def write_run_report(out: Path) -> None:
    """At the end of `prover prove`: OUT/report.html, and one line saying where it is (or why there is none)."""
    try:
        path = write_html(load_runs([out]), out / REPORT_HTML)
    except (ReportError, OSError) as exc:  # the run itself is done and saved: a report that fails is a warning
        click.echo(f"warning: no report: {exc}", err=True)
        return
    click.echo(f"report: {path}")


def summary_table(runs: list[Run]) -> Table:
    """One column per run, one row per figure: it stays readable in 80 columns for one run or several."""
    table = Table(title=runs[0].benchmark, show_header=True, header_style="bold")
    table.add_column("")
    summaries = [summarize_run(run) for run in runs]
    for run in runs:
        table.add_column(run.label, justify="right")

    def row(label: str, values) -> None:
        table.add_row(label, *map(str, values))

    row("model", [run.model for run in runs])
    row("budgets", [run.budgets() for run in runs])
    row("proved", [f"{s.proved}/{s.attempted}" for s in summaries])
    for status in STATUSES[1:]:
        row(status, [s.counts.get(status, 0) for s in summaries])
    row("pass rate", [f"{s.rate:.1%}" for s in summaries])
    row("95% interval", [f"{s.interval[0]:.1%}–{s.interval[1]:.1%}" for s in summaries])
    row("time (s)", [f"{s.seconds:.1f}" for s in summaries])
    row("  model", [f"{s.model_seconds:.1f}" for s in summaries])
    row("  proof assistant", [f"{s.env_seconds:.1f}" for s in summaries])
    row("  verification", [f"{s.verify_seconds:.1f}" for s in summaries])
    return table


def comparison_table(runs: list[Run]) -> Table:
    """Each later run against the first: gained, lost, proved by both, by neither; pass@k where they are repeats."""
    table = Table(title=f"against {runs[0].label}", header_style="bold")
    for name in ("run", "gained", "lost", "both", "neither"):
        table.add_column(name, justify="left" if name == "run" else "right")
    for other in runs[1:]:
        c = compare(runs[0], other)
        table.add_row(other.label, f"+{len(c.gained)}", f"-{len(c.lost)}", str(c.both), str(c.neither))
    if are_repeats(runs):
        table.caption = "repeats of one setting: " + ", ".join(
            f"pass@{k} {value:.1%}" for k, value in pass_at_k(runs).items())
    return table


def category_table(runs: list[Run]) -> Table:
    """Proved/attempted per category (rows) and run (columns), unsupported holes left out; a total row last."""
    table = Table(title="by category", header_style="bold")
    table.add_column("category")
    for run in runs:
        table.add_column(run.label, justify="right")
    counts = categories(runs)
    for name, cells in counts.items():
        table.add_row(name, *(f"{proved}/{attempted}" for proved, attempted in cells))
    totals = [(sum(cells[i][0] for cells in counts.values()), sum(cells[i][1] for cells in counts.values()))
              for i in range(len(runs))]
    table.add_row("total", *(f"{proved}/{attempted}" for proved, attempted in totals))
    return table
