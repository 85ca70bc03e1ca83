"""`prover check`: soundly check a proof file in a fresh process."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from prover.command import UserError
from prover.commands.common import benchmark_theorems, plugin_named
from prover.commands.options import backend_option
from prover.types import BackendUnavailable


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@backend_option()
@click.option("--benchmark", help="check the file proves this benchmark's theorem, statement unchanged")
@click.option("--theorem", help="the benchmark theorem's name (with --benchmark)")
@click.option("--split", default=None, help="benchmark split (default: search all)")
def check(file, backend, benchmark, theorem, split):
    """Soundly check a proof FILE in a fresh process: exit 0 accepted, 1 rejected, 2 cannot check."""
    plugin = plugin_named(backend)
    if bool(benchmark) != bool(theorem):
        raise UserError("--benchmark and --theorem go together")
    if file.is_dir():
        raise UserError(f"cannot check {file}: is a directory")
    if not file.is_file():
        raise UserError(f"cannot read {file}: no such file")
    expected = None
    if benchmark:
        splits = [split] if split else list(plugin.splits)
        found = [t for s in splits for t in benchmark_theorems(plugin, benchmark, s) if t.name == theorem]
        if not found:
            raise UserError(f"no theorem named {theorem!r} in {benchmark}")
        expected = found[0]
    try:
        verdict = plugin.check_file(file, expected)
    except (BackendUnavailable, OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot check {file}: {exc}") from None
    if verdict.accepted:
        axioms = f" (axioms: {', '.join(verdict.axioms)})" if verdict.axioms else ""
        click.echo(f"accepted: {file}{axioms}")
        return
    click.echo(f"rejected: {verdict.reason}")
    sys.exit(1)
