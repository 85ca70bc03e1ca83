"""`prover prove`: batch-prove a benchmark split (in-process or on a Ray cluster), or the holes of a user's files."""
from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path

import click

from prover.batch import RESULTS, UNSUPPORTED, RunFolderError, prepare_run_dir, prove_batch, read_rows, summarize
from prover.command import UserError
from prover.commands.common import (OutPath, benchmark_theorems, check_model_spec, plugin_named, sample_names,
                                    select_theorems, tactic_generator, theorem_names)
from prover.commands.report import write_run_report
from prover.commands.options import (SEARCH_OPTIONS, model_option, model_options, progress_option, search_options,
                                     selection_options)
from prover.plugins import UserFilesError, available_backends, cached_plugin
from prover.search_types import USER_FILE_PREMISES
from prover.types import BackendUnavailable


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@selection_options(f"proof assistant ({', '.join(available_backends())})")
@click.option("--sample", help="a fixed, named choice of the split's theorems (e.g. quickstart: the README's ten, "
                               "across miniF2F's categories); with --limit, its first N")
@model_option("default (tuned for the backend where an adapter ships) | base | none | hints (rule-based, rocq) | "
              "hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL (a bare PATH means hf:PATH)")
@model_options("served_name", "temperature", "max_tokens", "prompt", "scoring", "dtype", "tensor_parallel_size", "engine", "threads")
@search_options("budget_seconds", "max_expansions", "tactic_timeout", "num_candidates", "widenings", "premises",
                "automation", "automation_score", "hammer", "hammer_timeout", "hammer_share",
                premises=dict(default=None, help=SEARCH_OPTIONS["premises"]["help"]
                              + f"  [default: {USER_FILE_PREMISES} for files, 0 for a benchmark]"))
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True,
              help="run folder (rerun to resume; theorems whose row is `error` are tried again)")
@progress_option()
@click.option("--workers", type=click.IntRange(min=1),
              help="prove on Ray with N prover actors, each with its own proof assistant (default: in-process, no Ray)")
@click.option("--ray-address", help="with --workers: a running Ray cluster (auto | HOST:PORT | ray://HOST:PORT); "
                                    "default: a local Ray for this job")
@click.option("--cpus-per-worker", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="with --workers: Ray CPUs each prover actor reserves")
@click.option("--model-replicas", type=click.IntRange(min=1), default=1, show_default=True,
              help="with --workers: model actors serving the provers")
@click.option("--model-gpus", type=click.FloatRange(min=0),
              help="with --workers: GPUs per model actor (default: 1 where the cluster has GPUs, else 0)")
@click.option("--order", type=click.Choice(["given", "longest-first"]), default="given", show_default=True,
              help="longest-first: theorems still running when the last run stopped, then by statement length")
@click.option("--learn-rounds", type=click.IntRange(min=0), default=0, show_default=True,
              help="after the batch: fine-tune the model briefly on the proofs it found (no labels) and retry the "
                   "theorems not proved with it; this many times (OUT/learn/; in-process, --model default, base or "
                   "hf:FOLDER)")
@click.option("--learn-config", default="proofstep_lora_cpu", show_default=True,
              help="with --learn-rounds: the fine-tuning config (a name or YAML path)")
@click.option("--learn-set", multiple=True, metavar="KEY=VALUE",
              help="with --learn-rounds: a fine-tuning config override (default: a brief run, 20 steps); repeatable")
@click.option("--trees/--no-trees", default=True, show_default=True,
              help="keep each attempted theorem's search graph in OUT/trees/NAME.json (what `train-data` reads)")
@click.option("-R", "recursive_paths", nargs=2, multiple=True, metavar="DIR LIB",
              help="with PATHS: bind folder DIR to library LIB, as coqc -R (over the _CoqProject's); repeatable")
@click.option("-Q", "qualified_paths", nargs=2, multiple=True, metavar="DIR LIB",
              help="with PATHS: bind folder DIR to library LIB, qualified only, as coqc -Q; repeatable")
@click.option("--write", is_flag=True,
              help="with PATHS: put each file's proofs into the file (compiled first; a file that would not compile "
                   "is left as it was); default: a patch per file in OUT/patches/")
def prove(paths, backend, benchmark, split, limit, names, sample, model, model_settings, search_config, out, progress,
          workers, ray_address, cpus_per_worker, model_replicas, model_gpus, order, learn_rounds, learn_config, learn_set,
          trees, recursive_paths, qualified_paths, write):
    """Batch-prove a benchmark split, or the holes (proofs left unfinished: Admitted, sorry) of the files or
    folders PATHS; rows go to OUT/results.jsonl, proofs to OUT/proofs/, search graphs to OUT/trees/."""
    plugin = plugin_named(backend)
    if search_config.premises is None:
        search_config = replace(search_config, premises=USER_FILE_PREMISES if paths else 0)
    if ray_address and not workers:
        raise UserError("--ray-address goes with --workers N")
    load_paths = [("-R", *binding) for binding in recursive_paths] + [("-Q", *binding) for binding in qualified_paths]
    if paths and sample:
        raise UserError("--sample names a benchmark's theorems: it does not go with files to prove")
    learning = _learn_settings(learn_rounds, learn_config, learn_set, model, backend, paths, workers, trees)
    if paths:
        cluster = _cluster_settings(workers, ray_address, cpus_per_worker, model_replicas, model_gpus, order)
        _prove_files(plugin, list(paths), load_paths, limit, names, model, model_settings, search_config, out,
                     progress, cluster, order, trees, write)
        return
    if load_paths or write:
        raise UserError(f"{'-R/-Q' if load_paths else '--write'} goes with files to prove (prover prove PATHS ...)")
    theorems = benchmark_theorems(plugin, benchmark, split)
    theorems = select_theorems(theorems, sample_names(plugin, benchmark, split, sample, names), limit)
    run_config = {"backend": backend, "benchmark": benchmark, "split": split, "model": model, "limit": limit,
                  "names": names, "sample": sample, **vars(search_config), **vars(model_settings), "workers": workers,
                  "ray_address": ray_address, "order": order, "trees": trees, "learn_rounds": learn_rounds,
                  "learn_config": learn_config if learning else None, "learn_set": list(learn_set) if learning else None}
    check_model_spec(model, backend, model_settings)
    try:
        prepare_run_dir(out, run_config)
        prover_backend = None if workers else plugin.make_backend()  # on a cluster, each prover actor has its own
    except (RunFolderError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    selected = {t.name for t in theorems}
    try:
        if workers:
            cluster = _cluster_settings(workers, ray_address, cpus_per_worker, model_replicas, model_gpus, order)
            model_name = _prove_on_ray(backend, plugin.file_suffix, theorems, search_config, out, model, model_settings,
                                       cluster, progress, trees)
        else:
            if order != "given":
                from prover.theorem_order import order_theorems, read_unfinished

                theorems = order_theorems(theorems, order, read_unfinished(out))
            generator = tactic_generator(model, backend, model_settings)
            model_name = generator.name
            with prover_backend:
                for _ in prove_batch(theorems, prover_backend, generator, search_config, out, plugin.file_suffix,
                                     progress, trees):
                    pass
            if learning:
                _learn(learning, theorems, plugin, model, model_settings, search_config, out, progress)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished rows are saved in {out / RESULTS}; rerun the same command to resume", err=True)
        sys.exit(130)
    rows = [r for r in read_rows(out / RESULTS) if r["name"] in selected]
    click.echo(f"{benchmark} {split} [{model_name}]: {summarize(rows).line()}")
    write_run_report(out)


def _learn_settings(rounds, config, sets, model, backend, paths, workers, trees):
    """The --learn-rounds settings (None without it), or one UserError line where learning cannot run."""
    if not rounds:
        return None
    from prover.learn_in_run import LearnError, LearnSettings, model_training_set

    if paths or workers or not trees:
        what = "files to prove" if paths else "--workers" if workers else "--no-trees (it learns from the trees)"
        raise UserError(f"--learn-rounds does not go with {what}")
    try:
        model_training_set(model, backend)
    except LearnError as exc:
        raise UserError(str(exc)) from None
    bad = [kv for kv in sets if "=" not in kv]
    if bad:
        raise UserError(f"--learn-set takes KEY=VALUE, got {bad[0]!r}")
    return LearnSettings(rounds, config, list(sets))


def _learn(settings, theorems, plugin, model, model_settings, search_config, out, progress) -> None:
    from prover.iterate import IterateError
    from prover.learn_in_run import learn_and_retry

    try:
        learn_and_retry(settings, theorems, plugin, model, model_settings, search_config, out, progress,
                        echo=click.echo)
    except (IterateError, RunFolderError, BackendUnavailable) as exc:  # training failed; a folder; the assistant
        raise UserError(str(exc)) from None


def _cluster_settings(workers, address, cpus_per_worker, model_replicas, model_gpus, order):
    """The Ray job's settings, or None without --workers (Ray is imported only with it)."""
    if not workers:
        return None
    from prover.distributed import ClusterSettings

    return ClusterSettings(workers=workers, address=address, cpus_per_worker=cpus_per_worker,
                           model_replicas=model_replicas, model_gpus=model_gpus, order=order)


def _prove_on_ray(backend, suffix, theorems, config, out, model, settings, cluster, progress, trees=True) -> str:
    """The batch on Ray (prover.distributed); returns the model's name for the summary."""
    with _ray_job(backend, cluster, model, settings) as job:
        for _ in job.run(theorems, config, out, suffix, progress, trees=trees):
            pass
        return job.model_name


@contextlib.contextmanager
def _ray_job(backend, cluster, model, settings, model_backend=None):
    """A started ProverCluster whose provers make their backend from `backend` (a name, or what makes it), with
    the model of `model_backend` (default: `backend`, a name); a job that cannot start is one UserError line."""
    import functools

    from prover.distributed import ClusterError, ProverCluster
    from prover.models import load_generator

    model_backend = model_backend or backend
    make_model = None if model == "none" else functools.partial(load_generator, model, model_backend, settings)
    try:
        with ProverCluster(backend, cluster, make_model) as job:
            yield job
    except (ClusterError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None


def _prove_files(plugin, paths, load_paths, limit, names, model, model_settings, search_config, out, progress,
                 cluster, order, trees, write) -> None:
    """`prover prove PATHS`: the holes of the user's files, proved in-process (or on Ray: `cluster`) into the run
    folder OUT."""
    from prover.prove_files import MakeInContextBackend, prove_holes, prove_holes_on, select_holes

    ctx = click.get_current_context()
    given = [f"--{name}" for name in ("benchmark", "split")
             if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE]
    if given:
        raise UserError(f"{' and '.join(given)} name a benchmark: they do not go with files to prove")
    if plugin.user_files is None:
        able = [name for name in available_backends() if cached_plugin(name).user_files is not None]
        raise UserError(f"the {plugin.name} backend cannot prove holes in files yet"
                        + (f"; use --backend {' or '.join(able)}" if able else ""))
    wanted = theorem_names(names)
    try:
        files = plugin.user_files(paths, load_paths)
        holes = select_holes(files.holes, wanted, limit)
    except UserFilesError as exc:
        raise UserError(str(exc)) from None
    run_config = {"backend": plugin.name, "paths": sorted(str(p.absolute()) for p in paths),
                  "load_paths": [list(b) for b in load_paths], "model": model, "limit": limit, "names": names,
                  **vars(search_config), **vars(model_settings), "workers": cluster and cluster.workers,
                  "ray_address": cluster and cluster.address, "order": order, "trees": trees, "write": write}
    check_model_spec(model, plugin.name, model_settings)
    try:
        prepare_run_dir(out, run_config)
        prover_backend = None if cluster else files.make_backend()  # on a cluster, each prover actor has its own
    except (RunFolderError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    try:
        if cluster:
            make_backend = MakeInContextBackend.given(plugin.name, paths, load_paths)
            with _ray_job(make_backend, cluster, model, model_settings, plugin.name) as job:
                outcomes = prove_holes_on(job, files, holes, search_config, out, plugin.file_suffix, write=write,
                                          progress=progress, trees=trees)
                model_name = job.model_name
        else:
            generator = tactic_generator(model, plugin.name, model_settings)
            model_name = generator.name
            with prover_backend:
                outcomes = prove_holes(files, holes, prover_backend, generator, search_config, out,
                                       plugin.file_suffix, write=write, progress=progress, trees=trees, order=order)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished rows are saved in {out / RESULTS}; rerun the same command to resume", err=True)
        sys.exit(130)
    except BackendUnavailable as exc:  # e.g. a hole whose imports the project cannot resolve
        raise UserError(str(exc)) from None
    for outcome in outcomes:
        shown = outcome.file.relative_to(files.root) if outcome.file.is_relative_to(files.root) else outcome.file
        if outcome.written:
            click.echo(f"{shown}: proofs written")
        elif outcome.patch is not None:
            click.echo(f"{shown}: patch {outcome.patch}")
        else:
            click.echo(f"{shown}: nothing written: {outcome.reason}")
    selected = {hole.theorem.name for hole in holes}
    rows = [r for r in read_rows(out / RESULTS) if r["name"] in selected]
    click.echo(f"{len(holes)} holes in {len({h.file for h in holes})} files [{model_name}]: {summarize(rows).line()}")
    write_run_report(out)
    latest = {row["name"]: row for row in rows}
    if latest and all(row["status"] == UNSUPPORTED for row in latest.values()):
        # e.g. every hole in a Module Type, or a file that does not compile up to its holes: the rows say why, one
        # each, and so does the exit status
        raise UserError(f"{len(holes)} holes found, none provable here: {next(iter(latest.values()))['reason']}")
