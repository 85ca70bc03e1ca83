"""`prover iterate`: expert iteration, rounds of proving a split and fine-tuning on the proofs found."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from prover.batch import RunFolderError
from prover.command import UserError
from prover.commands.common import OutPath, benchmark_theorems, check_model_spec, chosen_families, plugin_named, theorem_names
from prover.commands.options import (backend_option, benchmark_option, field_option, limit_option, model_options,
                                     names_option, progress_option, search_options, split_option)
from prover.iterate import IterateSettings
from prover.types import BackendUnavailable

# The search settings a round's `prove` takes from the command line, with defaults for a quick round.
ROUND_SEARCH = dict(budget_seconds=dict(default=30.0), max_expansions=dict(default=16))


@click.command()
@backend_option()
@benchmark_option()
@split_option("the split proved and trained on (never test)")
@field_option(IterateSettings, "rounds", type=click.IntRange(min=1),
              help="prove-then-train rounds; the last model is proved once more")
@field_option(IterateSettings, "model", help="round 0's model (base: the untuned default model)")
@field_option(IterateSettings, "train_config",
              help="training config (name or YAML, kind finetune) each round fine-tunes with")
@click.option("--set", "train_set", multiple=True, metavar="KEY=VALUE", help="override a training config field")
@click.option("--corpus", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="proofstep rows every round also trains on (`prover extract` output; repeatable)")
@click.option("--corpus-theorems", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="also prove the valid held-out theorems of an extracted corpus (`prover extract`'s "
                   "OUT.theorems.jsonl; repeatable); their proofs join the data")
@click.option("--corpus-theorems-limit", type=click.IntRange(min=1), help="only the first N of those theorems")
@field_option(IterateSettings, "curriculum_count", type=click.IntRange(min=0),
              help="also prove N synthetic curriculum theorems each round, the model's own pick: the previous "
                   "round's near misses, topped up with fresh draws weighted to the families it did best on")
@click.option("--curriculum-families", metavar="A,B", help="comma-separated families (default: all of the backend's)")
@field_option(IterateSettings, "curriculum_seed", type=click.IntRange(min=0),
              help="seed of the fresh curriculum draws (round R draws with SEED + 1000 R)")
@field_option(IterateSettings, "search_weight", type=click.IntRange(min=1),
              help="times the search's own steps are repeated in the training data")
@limit_option("only the first N theorems of the split")
@names_option("comma-separated theorem names of the split")
@search_options("budget_seconds", "max_expansions", "tactic_timeout", "num_candidates", "premises", **ROUND_SEARCH)
@model_options("temperature", "max_tokens")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True, help="iteration folder (rerun to resume)")
@progress_option()
def iterate(backend, benchmark, split, rounds, model, train_config, train_set, corpus, corpus_theorems,
            corpus_theorems_limit, curriculum_count, curriculum_families, curriculum_seed, search_weight, limit, names, search_config, model_settings, out, progress):
    """Expert iteration: prove SPLIT, fine-tune on the proofs found (plus --corpus), prove again; one row per
    round in OUT/rounds.jsonl."""
    from prover.iterate import IterateError
    from prover.iterate import iterate as run_iteration

    plugin = plugin_named(backend)
    benchmark_theorems(plugin, benchmark, split)  # one-line errors for an unknown benchmark or split, before any work
    wanted = theorem_names(names) or []
    check_model_spec(model, backend, model_settings)
    families = _curriculum_families(plugin, curriculum_families) if curriculum_count else []
    settings = IterateSettings(
        backend=backend, benchmark=benchmark, split=split, rounds=rounds, model=model, train_config=train_config,
        train_set=list(train_set), corpus=[str(Path(c).resolve()) for c in corpus], search_weight=search_weight,
        limit=limit, names=wanted,
        corpus_theorems=[str(Path(c).resolve()) for c in corpus_theorems], corpus_theorems_limit=corpus_theorems_limit,
        curriculum_count=curriculum_count, curriculum_families=families, curriculum_seed=curriculum_seed,
        search=dict(max_expansions=search_config.max_expansions, budget_seconds=search_config.budget_seconds,
                    tactic_timeout=search_config.tactic_timeout, num_candidates=search_config.num_candidates),
        model_settings=dict(temperature=model_settings.temperature, max_tokens=model_settings.max_tokens))
    try:
        run_iteration(settings, out, plugin, progress=progress, echo=click.echo)
    except (IterateError, RunFolderError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: rerun the same command to resume from {out}", err=True)
        sys.exit(130)


def _curriculum_families(plugin, given: str | None) -> list[str]:
    """The families named (each once, in the order given), or all of the backend's; UserError for an unknown one."""
    if plugin.curriculum_theorems is None:
        raise UserError(f"backend {plugin.name} has no curriculum (--curriculum-count)")
    return chosen_families(plugin, given)
