"""The `prover` command line: batch-prove a benchmark, check a proof file, summarise a run."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from prover import interrupts
from prover.batch import RESULTS, RunFolderError, latest_rows, prepare_run_dir, prove_batch, read_rows, summarize
from prover.models import ModelSettings
from prover.plugins import UnknownBackend, available_backends, load_plugin
from prover.search import SearchConfig
from prover.types import BackendUnavailable


class UserError(click.ClickException):
    """A mistake in what the user asked for: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


class OutPath(click.Path):
    """An --out path that may not be empty: "" would otherwise mean the current directory."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            raise UserError(f"{param.opts[0] if param else 'the path'} is empty: give a path, e.g. runs/NAME")
        return super().convert(value, param, ctx)


@click.group()
def main() -> None:
    """Best-first formal theorem proving with language-model tactic generators."""
    interrupts.install()


def _plugin(backend: str):
    try:
        return load_plugin(backend)
    except UnknownBackend as exc:
        raise UserError(str(exc)) from None


def _benchmark(plugin, benchmark: str, split: str):
    if benchmark not in plugin.benchmarks:
        raise UserError(f"unknown benchmark {benchmark!r} for backend {plugin.name} (available: {', '.join(plugin.benchmarks)})")
    try:
        return plugin.benchmarks[benchmark](split)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _names(names: str | None) -> list[str] | None:
    """The theorem names of a --names value (None: not given); given but naming none (`""`, `,,`) is a mistake,
    not a request to run nothing or everything."""
    if names is None:
        return None
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        raise UserError("no theorem names in --names")
    return wanted


def _select(theorems, names: str | None, limit: int | None):
    wanted = _names(names)
    if wanted is not None:
        by_name = {t.name: t for t in theorems}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise UserError(f"no theorem named {missing[0]!r} in this benchmark split")
        theorems = [by_name[n] for n in wanted]
    return list(theorems[:limit] if limit else theorems)


def _model_errors(model: str) -> tuple:
    """The exceptions that mean a --model value cannot work (one printable line each)."""
    from prover.models import ModelSpecError

    errors: tuple = (ModelSpecError,)
    if model not in ("none", "hints"):  # weightless generators: no model stack to import
        from prover.hf_generator import ModelLoadError

        errors += (ModelLoadError,)
    if model.startswith("openai:"):
        from prover.openai_generator import ModelServerError

        errors += (ModelServerError,)
    return errors


def _check_model(model: str, backend: str, settings) -> None:
    """Refuse a --model value that cannot work before anything is written: a run folder holding the config of a
    run that never started would refuse the corrected command. (Loading the weights comes later.)"""
    from prover.models import check_model

    try:
        check_model(model, backend, settings)
    except _model_errors(model) as exc:
        raise UserError(str(exc)) from None


def _generator(model: str, backend: str, settings):
    from prover.models import load_generator

    try:
        return load_generator(model, backend, settings)
    except _model_errors(model) as exc:
        raise UserError(str(exc)) from None


@main.command()
@click.option("--backend", default="rocq", show_default=True, help=f"proof assistant ({', '.join(available_backends())})")
@click.option("--benchmark", default="minif2f-rocq", show_default=True)
@click.option("--split", default="valid", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="only the first N theorems")
@click.option("--names", help="comma-separated theorem names")
@click.option("--model", default="default", show_default=True,
              help="default (tuned for the backend where an adapter ships) | base | none | hints (rule-based, rocq) | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL (a bare PATH means hf:PATH)")
@click.option("--served-name", help="model name on an OpenAI-compatible server (default: the server's first)")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=ModelSettings.max_tokens, show_default=True,
              help="per candidate tactic (a longer one is dropped: the default keeps the Rocq adapter's `pose proof` of a compound term)")
@click.option("--prompt", help="prompt template: a name (rocq-proofstep, lean-proofstep, ...) or a file with {goals}")
@click.option("--scoring", type=click.Choice(["mean", "sum"]), default="mean", show_default=True,
              help="candidate score: log-prob per token (Llemma) or summed (ReProver)")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]),
              help="model weights' type (default: bfloat16 on a GPU, float32 on a CPU)")
@click.option("--tensor-parallel-size", type=click.IntRange(min=1), default=1, show_default=True,
              help="vLLM: GPUs one model replica spans")
@click.option("--budget-seconds", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True)
@click.option("--max-expansions", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--tactic-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True)
@click.option("--num-candidates", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--automation/--no-automation", default=True, show_default=True, help="try the backend's automation tactics first")
@click.option("--automation-score", type=click.FloatRange(max=0), default=0.0, show_default=True,
              help="the log-probability a state reached by an automation tactic adds to its parent's (below 0: the "
                   "model's surer candidates are expanded before them)")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True,
              help="run folder (rerun to resume; theorems whose row is `error` are tried again)")
@click.option("--progress/--no-progress", default=True)
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
@click.option("--trees/--no-trees", default=True, show_default=True,
              help="keep each attempted theorem's search graph in OUT/trees/NAME.json (what `train-data` reads)")
def prove(backend, benchmark, split, limit, names, model, served_name, temperature, max_tokens, prompt, scoring,
          dtype, tensor_parallel_size, budget_seconds, max_expansions, tactic_timeout, num_candidates, automation,
          automation_score, out, progress, workers, ray_address, cpus_per_worker, model_replicas, model_gpus, order, trees):
    """Batch-prove a benchmark split; rows go to OUT/results.jsonl, proofs to OUT/proofs/, search graphs to
    OUT/trees/."""
    plugin = _plugin(backend)
    if ray_address and not workers:
        raise UserError("--ray-address goes with --workers N")
    theorems = _select(_benchmark(plugin, benchmark, split), names, limit)
    config = SearchConfig(max_expansions=max_expansions, budget_seconds=budget_seconds, tactic_timeout=tactic_timeout,
                          num_candidates=num_candidates, automation=automation, automation_score=automation_score)
    settings = ModelSettings(temperature=temperature, max_tokens=max_tokens, prompt=prompt, scoring=scoring,
                             served_name=served_name, dtype=dtype, tensor_parallel_size=tensor_parallel_size)
    run_config = {"backend": backend, "benchmark": benchmark, "split": split, "model": model, "limit": limit,
                  "names": names, **vars(config), **vars(settings), "workers": workers, "ray_address": ray_address,
                  "order": order, "trees": trees}
    _check_model(model, backend, settings)
    try:
        prepare_run_dir(out, run_config)
        prover_backend = None if workers else plugin.make_backend()  # on a cluster, each prover actor has its own
    except (RunFolderError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    selected = {t.name for t in theorems}
    try:
        if workers:
            from prover.distributed import ClusterSettings

            cluster = ClusterSettings(workers=workers, address=ray_address, cpus_per_worker=cpus_per_worker,
                                      model_replicas=model_replicas, model_gpus=model_gpus, order=order)
            model_name = _prove_on_ray(backend, plugin.file_suffix, theorems, config, out, model, settings, cluster,
                                       progress, trees)
        else:
            if order != "given":
                from prover.distributed import order_theorems, read_unfinished  # imports no Ray

                theorems = order_theorems(theorems, order, read_unfinished(out))
            generator = _generator(model, backend, settings)
            model_name = generator.name
            with prover_backend:
                for _ in prove_batch(theorems, prover_backend, generator, config, out, plugin.file_suffix, progress,
                                     trees):
                    pass
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished rows are saved in {out / RESULTS}; rerun the same command to resume", err=True)
        sys.exit(130)
    rows = [r for r in read_rows(out / RESULTS) if r["name"] in selected]
    click.echo(f"{benchmark} {split} [{model_name}]: {summarize(rows).line()}")


def _prove_on_ray(backend, suffix, theorems, config, out, model, settings, cluster, progress, trees=True) -> str:
    """The batch on Ray (prover.distributed); returns the model's name for the summary."""
    import functools

    from prover.distributed import ClusterError, ProverCluster
    from prover.models import load_generator

    make_model = None if model == "none" else functools.partial(load_generator, model, backend, settings)
    try:
        with ProverCluster(backend, cluster, make_model) as job:
            for _ in job.run(theorems, config, out, suffix, progress, trees=trees):
                pass
            return job.model_name
    except (ClusterError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--backend", default="rocq", show_default=True)
@click.option("--benchmark", help="check the file proves this benchmark's theorem, statement unchanged")
@click.option("--theorem", help="the benchmark theorem's name (with --benchmark)")
@click.option("--split", default=None, help="benchmark split (default: search all)")
def check(file, backend, benchmark, theorem, split):
    """Soundly check a proof FILE in a fresh process: exit 0 accepted, 1 rejected, 2 cannot check."""
    plugin = _plugin(backend)
    if bool(benchmark) != bool(theorem):
        raise UserError("--benchmark and --theorem go together")
    if file.is_dir():
        raise UserError(f"cannot check {file}: is a directory")
    if not file.is_file():
        raise UserError(f"cannot read {file}: no such file")
    expected = None
    if benchmark:
        splits = [split] if split else list(plugin.splits)
        found = [t for s in splits for t in _benchmark(plugin, benchmark, s) if t.name == theorem]
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


@main.command()
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
        click.echo(f"warning: cannot read {config_path}: {str(exc).splitlines()[0]}", err=True)
        config = {}
    if not isinstance(config, dict):
        config = {}
    click.echo(f"{config.get('benchmark', '?')} {config.get('split', '?')} [{config.get('model', '?')}]: {summarize(rows).line()}")
    timed = [r for r in rows if isinstance(r.get("seconds"), (int, float))]
    if timed:
        total = sum(r["seconds"] for r in timed)
        model = sum(r.get("model_seconds", 0) for r in timed)
        env = sum(r.get("env_seconds", 0) for r in timed)
        click.echo(f"time: {total:.1f}s over {len(timed)} theorems (model {model:.1f}s, proof assistant {env:.1f}s)")
    for row in rows:
        if row["status"] == "proved":
            click.echo(f"  proved {row['name']}: {' '.join(map(str, row.get('proof') or []))}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on (loopback: only this machine)")
@click.option("--port", type=click.IntRange(1, 65535), default=6000, show_default=True)
@click.option("--backend", type=click.Choice(["rocq", "lean", "isabelle"]), default="rocq", show_default=True,
              help="the prompt's backend and the default of /suggest requests (llmstep's and LeanCopilot's: lean)")
@click.option("--model", default="default", show_default=True,
              help="default | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL")
@click.option("--served-name", help="model name on an OpenAI-compatible server (default: the server's first)")
@click.option("--num-candidates", type=click.IntRange(1, 64), default=8, show_default=True, help="suggestions per request")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=ModelSettings.max_tokens, show_default=True,
              help="per suggestion")
@click.option("--prompt", help="prompt template: a name (rocq-proofstep, lean-proofstep, ...) or a file with {goals}")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]))
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="seconds per request")
@click.option("--tactic-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="seconds per tactic when checking suggestions")
@click.option("--max-body-bytes", type=click.IntRange(min=1024), default=1 << 20, show_default=True)
@click.option("--max-batch", type=click.IntRange(min=1), default=16, show_default=True,
              help="concurrent requests coalesced into one model call")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="a web page origin (e.g. https://my.editor:8443) whose requests are served besides loopback "
                   "pages; repeatable")
def serve(host, port, backend, model, served_name, num_candidates, temperature, max_tokens, prompt, dtype, timeout,
          tactic_timeout, max_body_bytes, max_batch, allow_origins):
    """Serve tactic suggestions to editors over HTTP (llmstep, LeanCopilot external model, and /suggest)."""
    if model == "none":
        raise UserError("serve needs a model to suggest tactics (--model none has none)")
    import re

    for origin in allow_origins:
        if not re.fullmatch(r"https?://[^/\s]+/?", origin):
            raise UserError(f"--allow-origin {origin!r} is not an origin: give scheme://host[:port]")
    try:
        import uvicorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError:
        raise UserError("serve needs starlette and uvicorn: pip install starlette uvicorn") from None
    from prover.serve import ServeConfig, serve as run_server

    import socket

    try:  # before loading the model: a port in use should not cost a model load to find out
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    settings = ModelSettings(temperature=temperature, max_tokens=max_tokens, prompt=prompt, served_name=served_name,
                             dtype=dtype)
    generator = _generator(model, backend, settings)
    config = ServeConfig(backend=backend, num_candidates=num_candidates, request_timeout=timeout,
                         tactic_timeout=tactic_timeout, max_body_bytes=max_body_bytes, max_batch=max_batch,
                         allow_origins=tuple(allow_origins))
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"warning: listening on {host}: anyone who can reach it can use the model (no authentication)", err=True)
    click.echo(f"serving {generator.name} for {backend} on http://{host}:{port} "
               f"(llmstep: POST /, LeanCopilot: POST /generate, ours: POST /suggest)", err=True)
    run_server(generator, host=host, port=port, config=config, log_level="warning")


@main.command()
@click.option("--backend", default="rocq", show_default=True, help="rocq (driven live) | lean | isabelle (--sketch-only)")
@click.option("--benchmark", help="batch mode: e.g. minif2f-rocq (default: the backend's first)")
@click.option("--split", default="valid", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="only the first N theorems")
@click.option("--names", help="comma-separated theorem names")
@click.option("--statement", "informal_statement", help="single problem: the informal statement")
@click.option("--proof", "informal_proof", help="single problem: the informal proof")
@click.option("--formal-statement", help="single problem: the formal statement (e.g. 'Theorem t (x : R) : x = x.')")
@click.option("--header", help="single problem: what the statement needs before it (default: the backend's usual)")
@click.option("--problem", "problem_file", type=click.Path(path_type=Path),
              help="single problem as JSON: informal_statement, informal_proof, formal_statement[, header]")
@click.option("--samples", type=click.IntRange(min=1), default=4, show_default=True, help="sketches sampled per problem (K)")
@click.option("--model", default="default", show_default=True,
              help="default | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL: writes the sketches and proposes gap tactics")
@click.option("--served-name", help="model name on an OpenAI-compatible server (default: the server's first)")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=384, show_default=True, help="per sketch")
@click.option("--tactic-max-tokens", type=click.IntRange(min=1), default=ModelSettings.max_tokens, show_default=True,
              help="per tactic proposed in a gap's search")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]))
@click.option("--gap-search/--no-gap-search", default=True, show_default=True,
              help="search a gap that automation does not close")
@click.option("--gap-expansions", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--gap-budget-seconds", type=click.FloatRange(min=0, min_open=True), default=15.0, show_default=True)
@click.option("--num-candidates", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--tactic-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True)
@click.option("--budget-seconds", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="wall clock per problem, all samples together")
@click.option("--sketch-only", is_flag=True, help="only sample and parse sketches (any backend; no proof assistant)")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), help="run folder (rerun to resume); "
                                                                           "required in batch mode")
@click.option("--progress/--no-progress", default=True)
def translate(backend, benchmark, split, limit, names, informal_statement, informal_proof, formal_statement, header,
              problem_file, samples, model, served_name, temperature, max_tokens, tactic_max_tokens, dtype, gap_search,
              gap_expansions, gap_budget_seconds, num_candidates, tactic_timeout, budget_seconds, sketch_only, out,
              progress):
    """Informal-to-formal translation (Draft-Sketch-Prove): sample formal sketches from informal proofs, close
    their gaps with automation then a small search, check the whole proof. Batch: rows to OUT/results.jsonl,
    proofs to OUT/proofs/. Single problem (--statement/--proof/--formal-statement or --problem): exit 0 if proved,
    1 if not."""
    from prover.translate import (ModelSketches, TranslateConfig, TranslateError, benchmark_problems, check_drivable,
                                  single_problem, translate_batch)

    plugin = _plugin(backend)
    single = any(v is not None for v in (informal_statement, informal_proof, formal_statement, problem_file))
    if model == "none":
        raise UserError("translate needs a model to write sketches (--model none has none)")
    try:
        if not sketch_only:
            check_drivable(backend)
        if single:
            if problem_file is not None:
                try:
                    data = json.loads(problem_file.read_text())
                except (OSError, ValueError) as exc:
                    raise TranslateError(f"cannot read {problem_file}: {exc}") from None
                if not isinstance(data, dict):
                    raise TranslateError(f"{problem_file} must hold a JSON object")
                informal_statement = informal_statement or data.get("informal_statement", "")
                informal_proof = informal_proof or data.get("informal_proof", "")
                formal_statement = formal_statement or data.get("formal_statement", "")
                header = header if header is not None else data.get("header")
            problems = [single_problem(backend, informal_statement or "", informal_proof or "", formal_statement or "",
                                       header)]
    except TranslateError as exc:
        raise UserError(str(exc)) from None
    if not single:
        if out is None:
            raise UserError("batch mode needs --out DIR")
        benchmark = benchmark or next(iter(plugin.benchmarks))
        problems = benchmark_problems(_select(_benchmark(plugin, benchmark, split), names, limit))
    gap_config = SearchConfig(max_expansions=gap_expansions, budget_seconds=gap_budget_seconds,
                              tactic_timeout=tactic_timeout, num_candidates=num_candidates)
    config = TranslateConfig(samples=samples, max_tokens=max_tokens, temperature=temperature,
                             tactic_timeout=tactic_timeout, gap_search=gap_config, search_gaps=gap_search,
                             budget_seconds=budget_seconds, drive=not sketch_only)
    settings = ModelSettings(temperature=temperature, max_tokens=tactic_max_tokens, served_name=served_name, dtype=dtype)
    if out is not None:
        run_config = {"command": "translate", "backend": backend, "benchmark": None if single else benchmark,
                      "split": None if single else split, "model": model, "limit": limit, "names": names,
                      "samples": samples, "max_tokens": max_tokens, "temperature": temperature,
                      "tactic_max_tokens": tactic_max_tokens, "dtype": dtype, "gap_search": gap_search,
                      "gap_expansions": gap_expansions, "gap_budget_seconds": gap_budget_seconds,
                      "num_candidates": num_candidates, "tactic_timeout": tactic_timeout,
                      "budget_seconds": budget_seconds, "sketch_only": sketch_only}
        _check_model(model, backend, settings)
        try:
            prepare_run_dir(out, run_config)
        except RunFolderError as exc:
            raise UserError(str(exc)) from None
    try:
        prover_backend = _NoBackend() if sketch_only else plugin.make_backend()
    except BackendUnavailable as exc:
        raise UserError(str(exc)) from None
    if single and not sketch_only:
        from prover.types import StatementError

        try:  # a statement the proof assistant rejects: say so before loading any model
            prover_backend.open(problems[0].theorem)
        except StatementError as exc:
            prover_backend.close()
            raise UserError(f"{problems[0].theorem.name}: {' '.join(str(exc).split())}") from None
    generator = _generator(model, backend, settings)
    source = ModelSketches(generator, backend, max_tokens=max_tokens, temperature=temperature)
    run_dir = out
    if run_dir is None:
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="prover-translate-"))
        (run_dir / "proofs").mkdir()
    rows = []
    try:
        with prover_backend:
            for row in translate_batch(problems, prover_backend, source, generator, config, run_dir, plugin.file_suffix,
                                       progress and not single):
                rows.append(row)
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished rows are saved in {run_dir / RESULTS}; rerun the same command to resume",
                   err=True)
        sys.exit(130)
    if single:
        if not rows:  # resumed: the problem was done already
            rows = [r for r in read_rows(run_dir / RESULTS) if r["name"] == problems[0].theorem.name][-1:]
        row = rows[0]
        if row["status"] in ("error", "unsupported"):
            raise UserError(" ".join(row["reason"].split()))
        detail = f": {' '.join(row['proof'])}" if row.get("proof") else (f" ({row['reason']})" if row.get("reason") else "")
        click.echo(f"{row['name']}: {row['status']} after {row.get('samples', 0)} sketch(es){detail}")
        if out is None and row.get("proof"):
            click.echo(prover_backend.render_proof(problems[0].theorem, tuple(row["proof"])))
        sys.exit(0 if row["status"] == "proved" else 1)
    selected = {p.theorem.name if hasattr(p, "theorem") else p[0].name for p in problems}
    done = [r for r in read_rows(run_dir / RESULTS) if r["name"] in selected]
    click.echo(f"{benchmark} {split} translate [{source.name}, K={samples}]: {summarize(done).line()}")


class _NoBackend:
    """--sketch-only: no proof assistant is started."""

    name = "none"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def close(self) -> None:
        pass


@main.group()
def setup() -> None:
    """Install and pin a backend's proof assistant (needs network)."""


@setup.command("lean")
@click.option("--toolchain", default="v4.24.0", show_default=True,
              help="Lean release to pin (minif2f-lean4: v4.24.0, minif2f-lean4-deepseek: v4.9.0)")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="where to create the Lake project (default: in the cache, one per toolchain)")
@click.option("--mathlib-rev", help="Mathlib git revision (default: the benchmark's pin for this toolchain)")
@click.option("--mathlib-git", help="Mathlib repository (default: the benchmark's, usually leanprover-community/mathlib4)")
@click.option("--repl-rev", help="leanprover-community/repl tag or branch (default: the toolchain's tag)")
@click.option("--quiet", is_flag=True, help="do not pass on the tools' own output")
def setup_lean(toolchain, directory, mathlib_rev, mathlib_git, repl_rev, quiet):
    """A Lake project pinned to the benchmark's Lean and Mathlib, with the REPL built; recorded for `prove`."""
    from lean_env.setup import SetupError, record_path
    from lean_env.setup import setup_lean as run_setup

    try:
        record = run_setup(toolchain, directory, mathlib_rev, mathlib_git=mathlib_git, repl_rev=repl_rev,
                           log=lambda line: click.echo(line, err=True), echo_output=not quiet)
    except SetupError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: rerun the same command to finish the setup", err=True)
        sys.exit(130)
    click.echo(f"Lean project ready: {record['project']} ({record['toolchain']}); recorded in {record_path()}")


@setup.command("isabelle")
@click.option("--driver", type=click.Choice(["pisa", "isarepl", "server"]), default="pisa", show_default=True,
              help="the search's bridge (PISA or Isa-REPL), or only the Isabelle server `check` uses")
@click.option("--sessions", help="comma-separated heaps to build "
                                 "(default: HOL-Library,HOL-Computational_Algebra,HOL-Number_Theory)")
@click.option("--jobs", type=click.IntRange(min=1), help="parallel build jobs (isabelle build -j)")
@click.option("--skip-build", is_flag=True, help="do not build heaps (they are built already)")
@click.option("--server-name", default="llemma-prover", show_default=True, help="driver server: isabelle server -n NAME")
@click.option("--pisa-dir", type=click.Path(file_okay=False, path_type=Path),
              help="driver pisa: a built Portal-to-ISAbelle checkout (default: $LLEMMA_PROVER_PISA_DIR)")
@click.option("--pisa-port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--isarepl-dir", type=click.Path(file_okay=False, path_type=Path),
              help="driver isarepl: an Isa-REPL checkout (default: $LLEMMA_PROVER_ISAREPL_DIR)")
@click.option("--isarepl-port", type=click.IntRange(1, 65535), default=6666, show_default=True)
@click.option("--quiet", is_flag=True, help="do not pass on the tools' own output")
def setup_isabelle(driver, sessions, jobs, skip_build, server_name, pisa_dir, pisa_port, isarepl_dir, isarepl_port,
                   quiet):
    """Find Isabelle, build the heaps miniF2F needs, start the driver's server; recorded for `prove`/`check`."""
    import shlex

    from isabelle_env.setup import SetupError, record_path
    from isabelle_env.setup import setup_isabelle as run_setup

    options = {"skip_build": skip_build, "server_name": server_name, "pisa_dir": pisa_dir, "pisa_port": pisa_port,
               "isarepl_dir": isarepl_dir, "isarepl_port": isarepl_port}
    if sessions:
        options["sessions"] = tuple(s.strip() for s in sessions.split(",") if s.strip())
    if jobs:
        options["jobs"] = jobs
    try:
        record = run_setup(driver, log=lambda line: click.echo(line, err=True), echo_output=not quiet, **options)
    except SetupError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: rerun the same command to finish the setup", err=True)
        sys.exit(130)
    click.echo(f"Isabelle ready: {record['version']}, driver {record['driver']}; recorded in {record_path()}")
    for name, value in record.get("environment", {}).items():
        click.echo(f"export {name}={shlex.quote(value)}")


def _contamination_guard(plugin, benchmark: str | None, ngram: int):
    """The n-gram guard over every split of `benchmark` (default: the backend's first)."""
    from prover.contamination import NgramGuard

    benchmark = benchmark or next(iter(plugin.benchmarks))
    theorems = [t for split in plugin.splits for t in _benchmark(plugin, benchmark, split)]
    return NgramGuard.from_theorems(theorems, n=ngram, benchmark=benchmark)


@main.command()
@click.option("--backend", default="rocq", show_default=True, help="proof assistant whose proof scripts are replayed")
@click.option("--source", required=True, help="stdlib (the installed standard library) | a source file | a folder of them")
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True,
              help="proofstep rows (.jsonl); OUT.files.jsonl logs each source file (rerun to resume)")
@click.option("--workers", type=click.IntRange(min=1), help="files replayed in parallel (default: CPU count)")
@click.option("--valid-fraction", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="share of files (never rows) in the valid split")
@click.option("--test-fraction", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="share of files in the test split")
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
@click.option("--progress/--no-progress", default=True)
def extract(backend, source, out, workers, valid_fraction, test_fraction, benchmark, contamination_guard, ngram,
            sentence_timeout, file_timeout, limit, fresh, progress):
    """Replay real proof scripts and write (goal state, tactic) proofstep rows for fine-tuning; prints a JSON summary.
    The held-out files' theorems go to OUT.theorems.jsonl (`prover iterate --corpus-theorems`)."""
    plugin = _plugin(backend)
    if plugin.extract_proofsteps is None:
        raise UserError(f"backend {backend} has no proof extractor")
    guard = _contamination_guard(plugin, benchmark, ngram) if contamination_guard else None
    try:
        summary = plugin.extract_proofsteps(source, out, workers=workers, valid_fraction=valid_fraction,
                                            test_fraction=test_fraction, guard=guard, sentence_timeout=sentence_timeout,
                                            file_timeout=file_timeout, limit=limit, fresh=fresh, progress=progress)
    except (ValueError, OSError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: finished files are logged in {out}.files.jsonl; rerun the same command to resume",
                   err=True)
        sys.exit(130)
    click.echo(json.dumps(summary, indent=2))


@main.command()
@click.option("--backend", default="rocq", show_default=True)
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
@click.option("--progress/--no-progress", default=True)
def synth(backend, kinds, count, seed, out, include_automation, benchmark, contamination_guard, ngram, progress):
    """Synthetic benchmark-shaped theorems proved by scripted template steps, as proofstep rows for fine-tuning
    (what the hint templates do, in many more variants than a benchmark's valid split holds); prints a JSON
    summary. Only theorems the script proves in the live proof assistant give rows."""
    plugin = _plugin(backend)
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


@main.command("train-data")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=OutPath(dir_okay=False, path_type=Path), required=True, help="proofstep rows (.jsonl)")
@click.option("--split", "splits", type=click.Choice(["train", "valid", "test"]), multiple=True,
              help="theorems of this split (repeatable; default: valid only; test is miniF2F's held-out split)")
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


@main.command()
@click.option("--backend", default="rocq", show_default=True)
@click.option("--benchmark", default="minif2f-rocq", show_default=True)
@click.option("--split", default="valid", show_default=True, help="the split proved and trained on (never test)")
@click.option("--rounds", type=click.IntRange(min=1), default=2, show_default=True,
              help="prove-then-train rounds; the last model is proved once more")
@click.option("--model", default="base", show_default=True, help="round 0's model (base: the untuned default model)")
@click.option("--train-config", default="proofstep_lora_cpu", show_default=True,
              help="training config (name or YAML, kind finetune) each round fine-tunes with")
@click.option("--set", "train_set", multiple=True, metavar="KEY=VALUE", help="override a training config field")
@click.option("--corpus", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="proofstep rows every round also trains on (`prover extract` output; repeatable)")
@click.option("--corpus-theorems", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="also prove the valid held-out theorems of an extracted corpus (`prover extract`'s "
                   "OUT.theorems.jsonl; repeatable); their proofs join the data")
@click.option("--corpus-theorems-limit", type=click.IntRange(min=1), help="only the first N of those theorems")
@click.option("--search-weight", type=click.IntRange(min=1), default=4, show_default=True,
              help="times the search's own steps are repeated in the training data")
@click.option("--limit", type=click.IntRange(min=1), help="only the first N theorems of the split")
@click.option("--names", help="comma-separated theorem names of the split")
@click.option("--budget-seconds", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True)
@click.option("--max-expansions", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--tactic-timeout", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True)
@click.option("--num-candidates", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(min=1), default=48, show_default=True)
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), required=True, help="iteration folder (rerun to resume)")
@click.option("--progress/--no-progress", default=True)
def iterate(backend, benchmark, split, rounds, model, train_config, train_set, corpus, corpus_theorems,
            corpus_theorems_limit, search_weight, limit, names, budget_seconds, max_expansions, tactic_timeout,
            num_candidates, temperature, max_tokens, out, progress):
    """Expert iteration: prove SPLIT, fine-tune on the proofs found (plus --corpus), prove again; one row per
    round in OUT/rounds.jsonl."""
    from prover.iterate import IterateError, IterateSettings
    from prover.iterate import iterate as run_iteration

    plugin = _plugin(backend)
    _benchmark(plugin, benchmark, split)  # one-line errors for an unknown benchmark or split, before any work
    wanted = _names(names) or []
    _check_model(model, backend, ModelSettings(temperature=temperature, max_tokens=max_tokens))
    settings = IterateSettings(
        backend=backend, benchmark=benchmark, split=split, rounds=rounds, model=model, train_config=train_config,
        train_set=list(train_set), corpus=[str(Path(c).resolve()) for c in corpus], search_weight=search_weight,
        limit=limit, names=wanted,
        corpus_theorems=[str(Path(c).resolve()) for c in corpus_theorems], corpus_theorems_limit=corpus_theorems_limit,
        search=dict(max_expansions=max_expansions, budget_seconds=budget_seconds,
                                 tactic_timeout=tactic_timeout, num_candidates=num_candidates),
        model_settings=dict(temperature=temperature, max_tokens=max_tokens))
    try:
        run_iteration(settings, out, plugin, progress=progress, echo=click.echo)
    except (IterateError, RunFolderError, BackendUnavailable) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: rerun the same command to resume from {out}", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
