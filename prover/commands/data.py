"""`prover extract`, `prover synth`, `prover train-data`: proofstep rows for fine-tuning, from real proof scripts,
synthetic theorems or the proofs a run found; and the theorems to find proofs of (`prover curriculum`, `prover
stdlib-holes`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from prover.command import UserError
from prover.commands.common import OutPath, benchmark_theorems, chosen_families, plugin_named
from prover.commands.options import backend_option, field_option, progress_option
from prover.proofsteps import ExtractOptions
from prover.types import BackendUnavailable


def _contamination_guard(plugin, benchmark: str | None, ngram: int):
    """The n-gram guard over every split of `benchmark` (default: the backend's first)."""
    from prover.contamination import NgramGuard

    benchmark = benchmark or next(iter(plugin.benchmarks))
    theorems = [t for split in plugin.splits for t in benchmark_theorems(plugin, benchmark, split)]
    return NgramGuard.from_theorems(theorems, n=ngram, benchmark=benchmark)


@click.command()
@backend_option("proof assistant whose proof scripts are replayed")
@click.option("--source", required=True,
              help="stdlib (the installed standard library) | coquelicot | hammer | mathcomp (installed libraries "
                   "that ship their sources; Rocq) | a source file | a folder of them")
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True,
              help="proofstep rows (.jsonl); OUT.files.jsonl logs each source file (rerun to resume)")
@click.option("--workers", type=click.IntRange(min=1), help="files replayed in parallel (default: CPU count)")
@field_option(ExtractOptions, "valid_fraction", type=click.FloatRange(0, 1),
              help="share of files (never rows) in the valid split")
@field_option(ExtractOptions, "test_fraction", type=click.FloatRange(0, 1), help="share of files in the test split")
@click.option("--benchmark", help="contamination guard: drop rows sharing an n-gram with its statements "
                                  "(default: the backend's first benchmark, e.g. minif2f-rocq)")
@click.option("--contamination-guard/--no-contamination-guard", default=True, show_default=True)
@click.option("--ngram", type=click.IntRange(min=2), default=10, show_default=True, help="guard n-gram length (tokens)")
@click.option("--sentence-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="seconds per sentence (Require/Qed: 6x); a file stops at the first that runs over")
@click.option("--file-timeout", type=click.FloatRange(min=0, min_open=True), default=900.0, show_default=True,
              help="seconds per file")
@click.option("--limit", type=click.IntRange(min=1), help="only the first N source files")
@click.option("--fresh", is_flag=True, help="start over instead of resuming from OUT.files.jsonl")
@progress_option()
def extract(backend, source, out, workers, valid_fraction, test_fraction, benchmark, contamination_guard, ngram,
            sentence_timeout, file_timeout, limit, fresh, progress):
    """Replay real proof scripts and write (goal state, tactic) proofstep rows for fine-tuning; prints a JSON summary.
    The held-out files' theorems go to OUT.theorems.jsonl (`prover iterate --corpus-theorems`)."""
    plugin = plugin_named(backend)
    if plugin.extract_proofsteps is None:
        raise UserError(f"backend {backend} has no proof extractor")
    guard = _contamination_guard(plugin, benchmark, ngram) if contamination_guard else None
    try:
        options = ExtractOptions(workers=workers, valid_fraction=valid_fraction, test_fraction=test_fraction,
                                 guard=guard, sentence_timeout=sentence_timeout, file_timeout=file_timeout, limit=limit,
                                 fresh=fresh, progress=progress)
        summary = plugin.extract_proofsteps(source, out, options)
    except (ValueError, OSError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished files are logged in {out}.files.jsonl; rerun the same command to resume",
                   err=True)
        sys.exit(130)
    click.echo(json.dumps(summary, indent=2))



@click.command()
@backend_option()
@click.option("--kinds", default=None, help="comma-separated kinds of theorem (default: all the backend has; "
              "rocq: mod, field, abs)")
@click.option("--count", type=click.IntRange(min=1), default=500, show_default=True, help="theorems drawn per kind")
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed draws the same theorems")
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True, help="proofstep rows (.jsonl)")
@click.option("--include-automation/--no-include-automation", default=True, show_default=True,
              help="keep the steps that are automation tactics (intros, lia, lra...), not just the templates")
@click.option("--benchmark", help="contamination guard: drop rows sharing an n-gram with its statements "
              "(default: the backend's first benchmark)")
@click.option("--contamination-guard/--no-contamination-guard", default=True, show_default=True)
@click.option("--ngram", type=click.IntRange(min=2), default=10, show_default=True, help="guard n-gram length (tokens)")
@progress_option()
def synth(backend, kinds, count, seed, out, include_automation, benchmark, contamination_guard, ngram, progress):
    """Synthetic benchmark-shaped theorems proved by scripted template steps, as proofstep rows for fine-tuning
    (what the hint templates do, in many more variants than a benchmark's valid split holds); prints a JSON
    summary. Only theorems the script proves in the live proof assistant give rows."""
    plugin = plugin_named(backend)
    if plugin.synthesize_proofsteps is None:
        raise UserError(f"backend {backend} has no synthetic theorems")
    chosen = [k.strip() for k in (kinds or ",".join(plugin.synthetic_kinds)).split(",") if k.strip()]
    unknown = [k for k in chosen if k not in plugin.synthetic_kinds]
    if unknown or not chosen:
        raise UserError(f"unknown kind {', '.join(unknown) or '(none)'}: one of {', '.join(plugin.synthetic_kinds)}")
    guard = _contamination_guard(plugin, benchmark, ngram) if contamination_guard else None
    from tqdm import tqdm

    bar = tqdm(total=count * len(chosen), disable=not progress, unit="theorem")
    try:
        summary = plugin.synthesize_proofsteps(out, chosen, count, seed=seed, guard=guard,
                                               include_automation=include_automation, progress=lambda _: bar.update())
    except (ValueError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}") from None
    finally:
        bar.close()
    click.echo(json.dumps(summary, indent=2))


@click.command()
@backend_option()
@click.option("--families", default=None, help="comma-separated families (default: all the backend has; rocq: "
              "polynomial, linear_system, quadratic, square_hint, induction_sum, divisibility, digits, floor, "
              "remainder, function_values, functional_equation)")
@click.option("--count", type=click.IntRange(min=1), default=50, show_default=True, help="theorems drawn per family")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="the same seed draws the same theorems (and names them cur_FAMILY_SEED_K)")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True,
              help="a new or empty folder, or a previous curriculum's (replaced whole): OUT/FAMILY/NAME.v and "
                   "OUT/manifest.jsonl")
@progress_option()
def curriculum(backend, families, count, seed, out, progress):
    """Synthetic theorems across the families competition problems are made of, written as holes (`Admitted`, one
    theorem a file, a folder per family) for `prover prove OUT` to search, with automation, the hammer and the
    model; no proof is written here. Statements the proof assistant rejects are dropped and counted. Prints a JSON
    summary; `prover report RUN --by-category` then counts what was proved per family."""
    plugin = plugin_named(backend)
    if plugin.write_curriculum is None:
        raise UserError(f"backend {backend} has no curriculum")
    chosen = chosen_families(plugin, families)
    from tqdm import tqdm

    bars: list = []  # the bar starts at the first theorem: a refusal of OUT is one line, no bar before it

    def advance(_family: str) -> None:
        if not bars:
            bars.append(tqdm(total=count * len(chosen), disable=not progress, unit="theorem"))
        bars[0].update()

    try:
        summary = plugin.write_curriculum(out, chosen, count, seed, progress=advance)
    except (ValueError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}") from None
    finally:
        for bar in bars:
            bar.close()
    click.echo(json.dumps(summary, indent=2))


@click.command("train-data")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True, help="proofstep rows (.jsonl)")
@click.option("--split", "splits", type=click.Choice(["train", "valid", "test"]), multiple=True,
              help="theorems of this split (repeatable; default: valid only; test is miniF2F's held-out split; "
                   "the holes of a user's files, e.g. a curriculum's, are train)")
@click.option("--include-automation/--no-include-automation", default=True, show_default=True,
              help="keep steps whose tactic came from the backend's automation list, not the model")
@click.option("--renamed-copies", type=click.IntRange(min=0), default=0, show_default=True,
              help="add up to K copies of each row with its hypotheses and variables renamed (kept apart from "
                   "deduplication: the copies are the point)")
def train_data(runs, out, splits, include_automation, renamed_copies):
    """Proofstep rows (state, tactic) along the proofs found in RUNS (run folders of `prover prove`, with their
    trees/); deduplicated across runs; prints a JSON summary."""
    from prover.proofsteps import write_proofsteps
    from prover.train_data import DEFAULT_SPLITS, HELD_OUT, RunFolderError, collect
    from prover.train_data import renamed_copies as with_renamed_copies

    splits = tuple(dict.fromkeys(splits)) or DEFAULT_SPLITS
    if HELD_OUT in splits:
        click.echo(f"warning: --split {HELD_OUT} puts the benchmark's held-out theorems into training data: "
                   "results on that split are no longer a test", err=True)
    try:
        found = collect(runs, splits, include_automation)
        rows = with_renamed_copies(found.rows, renamed_copies) if renamed_copies else found.rows
        write_proofsteps(out, rows)
    except (RunFolderError, ValueError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}") from None
    click.echo(json.dumps({"out": str(out), "splits": list(splits), **found.summary(),
                           "rows_written": len(rows)}, indent=2))


@click.command("stdlib-holes")
@backend_option("proof assistant whose standard library is copied")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True,
              help="a new (or empty) folder: the project, its manifest.jsonl and provenance.json")
@click.option("--files", type=click.IntRange(min=1), default=20, show_default=True,
              help="held-out library files to copy (fewer where fewer have a proof to take out)")
@click.option("--holes-per-file", type=click.IntRange(min=1), default=3, show_default=True,
              help="proofs taken out of each file")
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed makes the same files")
@click.option("--max-sentences", type=click.IntRange(min=1), default=10, show_default=True,
              help="only proofs of at most this many steps are taken out")
def stdlib_holes(backend, out, files, holes_per_file, seed, max_sentences):
    """A benchmark from the proof assistant's own library: its held-out files (the valid split of `prover extract
    --source stdlib`) copied into OUT with a seeded choice of short proofs left as holes, each copy still
    compiling; prove them back with `prover prove OUT/theories`. Prints a one-line summary."""
    plugin = plugin_named(backend)
    if plugin.holes_benchmark is None:
        raise UserError(f"backend {backend} cannot build a stdlib-holes benchmark")
    try:
        summary = plugin.holes_benchmark(out, files, holes_per_file, seed, max_sentences)
    except (ValueError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc}") from None
    holes, files = summary["holes"], summary["files"]
    click.echo(f"{holes} hole{'s' * (holes != 1)} in {files} file{'s' * (files != 1)} written to {out} "
               f"(manifest.jsonl; provenance.json says which held-out files were left out and why); "
               f"prove them with: prover prove {summary['theories']} --out runs/NAME")
