"""`prover report`: summarise a run folder of `prover prove`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from prover.batch import RESULTS, latest_rows, read_rows, summarize
from prover.command import UserError
from prover.errors import first_line


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
def report(run):
    """Summarise a run folder written by `prover prove`."""
    results = run / RESULTS
    if not results.is_file():
        raise UserError(f"no {RESULTS} in {run}")
    try:
        rows = latest_rows(read_rows(results))  # a theorem retried after an `error` row counts by its last row
    except OSError as exc:
        raise UserError(f"cannot read {results}: {exc.strerror or exc}") from None
    config_path = run / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    except (OSError, ValueError) as exc:  # only the summary's labels come from it: say so, then summarise
        click.echo(f"warning: cannot read {config_path}: {first_line(exc)}", err=True)
        config = {}
    if not isinstance(config, dict):
        config = {}
    if isinstance(config.get("paths"), list):  # `prover prove PATHS`: the holes of a user's files
        what = f"holes in {', '.join(map(str, config['paths']))}"
    else:
        what = f"{config.get('benchmark', '?')} {config.get('split', '?')}"
    click.echo(f"{what} [{config.get('model', '?')}]: {summarize(rows).line()}")
    timed = [r for r in rows if isinstance(r.get("seconds"), (int, float))]
    if timed:
        total = sum(r["seconds"] for r in timed)
        model = sum(r.get("model_seconds", 0) for r in timed)
        env = sum(r.get("env_seconds", 0) for r in timed)
        click.echo(f"time: {total:.1f}s over {len(timed)} theorems (model {model:.1f}s, proof assistant {env:.1f}s)")
    for row in rows:
        if row["status"] == "proved":
            resting = f" (depends on open lemma {', '.join(row['depends_on'])})" if row.get("depends_on") else ""
            click.echo(f"  proved {row['name']}: {' '.join(map(str, row.get('proof') or []))}{resting}")
