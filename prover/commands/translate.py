"""`prover translate`: informal-to-formal translation (Draft-Sketch-Prove), one problem or a benchmark split."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from prover.batch import RESULTS, RunFolderError, prepare_run_dir, read_rows, summarize
from prover.command import UserError
from prover.commands.common import (OutPath, benchmark_theorems, check_model_spec, plugin_named, select_theorems,
                                    tactic_generator)
from prover.commands.options import (default_of, field_option, model_option, model_options, progress_option,
                                     search_options, selection_options)
from prover.drafts import DraftSettings
from prover.translate import TranslateConfig
from prover.types import BackendUnavailable

GAP_SEARCH = default_of(TranslateConfig, "gap_search")  # a gap's search: its defaults are the gap options'


@click.command()
@selection_options("proof assistant (sketches are driven live where the backend can; else use --sketch-only)",
                   "batch mode: e.g. minif2f-rocq (default: the backend's first)", benchmark_default=None)
@click.option("--statement", "informal_statement", help="single problem: the informal statement")
@click.option("--proof", "informal_proof", help="single problem: the informal proof")
@click.option("--formal-statement", help="single problem: the formal statement (e.g. 'Theorem t (x : R) : x = x.')")
@click.option("--header", help="single problem: what the statement needs before it (default: the backend's usual)")
@click.option("--problem", "problem_file", type=click.Path(path_type=Path),
              help="single problem as JSON: informal_statement, informal_proof, formal_statement[, header]")
@field_option(TranslateConfig, "samples", type=click.IntRange(min=1), help="sketches sampled per problem (K)")
@model_option("default | hf:PATH_OR_ID | vllm:PATH_OR_ID | openai:URL: writes the sketches and proposes gap tactics")
@model_options("served_name", "temperature",
               click.option("--max-tokens", "sketch_max_tokens", type=click.IntRange(min=1),
                            default=default_of(TranslateConfig, "max_tokens"), show_default=True, help="per sketch"),
               "max_tokens", "dtype", "engine", "threads",
               max_tokens=dict(flag="--tactic-max-tokens", help="per tactic proposed in a gap's search"))
@field_option(TranslateConfig, "search_gaps", "--gap-search/--no-gap-search",
              help="search a gap that automation does not close")
@search_options("max_expansions", "budget_seconds", "num_candidates", "tactic_timeout", "hammer", "hammer_timeout",
                max_expansions=dict(flag="--gap-expansions", default=GAP_SEARCH.max_expansions),
                budget_seconds=dict(flag="--gap-budget-seconds", default=GAP_SEARCH.budget_seconds),
                num_candidates=dict(default=GAP_SEARCH.num_candidates),
                hammer=dict(help="try the backend's hammer on a gap that automation does not close, before its search "
                                 "[env LLEMMA_PROVER_HAMMER=0 turns it off]"),
                tactic_timeout=dict(default=default_of(TranslateConfig, "tactic_timeout")))
@field_option(TranslateConfig, "budget_seconds", type=click.FloatRange(min=0, min_open=True),
              help="wall clock per problem, all samples together")
@click.option("--draft-model", help="where a problem has no informal proof: draft K with this model (any --model "
                                     "spec; the same spec as --model reuses its loaded model)")
@click.option("--draft-served-name", help="the draft model's name on an OpenAI-compatible server (default: "
                                          "--served-name if --draft-model is --model's URL, else the server's first)")
@field_option(DraftSettings, "template", "--draft-template", "draft_template",
              help="alpaca (= metamath: MetaMath-Llemma's zero-shot prompt) | minerva (few-shot, for Llemma) | "
                   "a file with {instruction}")
@field_option(DraftSettings, "max_tokens", "--draft-max-tokens", "draft_max_tokens", type=click.IntRange(min=1),
              help="per draft")
@field_option(DraftSettings, "temperature", "--draft-temperature", "draft_temperature", type=click.FloatRange(min=0))
@field_option(TranslateConfig, "drafts", type=click.IntRange(min=1),
              help="informal proofs drafted per problem (at most --samples; default: --samples, one sketch each); "
                   "sketch i is sampled from draft i mod D")
@field_option(TranslateConfig, "redraft", "--redraft", is_flag=True,
              help="draft even where a human informal proof exists (to compare)")
@click.option("--sketch-only", is_flag=True, help="only sample and parse sketches (any backend; no proof assistant)")
@click.option("--out", type=OutPath(file_okay=False, path_type=Path), help="run folder (rerun to resume); "
                                                                           "required in batch mode")
@progress_option()
def translate(backend, benchmark, split, limit, names, informal_statement, informal_proof, formal_statement, header,
              problem_file, samples, model, model_settings, sketch_max_tokens, search_gaps, search_config,
              budget_seconds, draft_model, draft_served_name, draft_template, draft_max_tokens, draft_temperature,
              drafts, redraft, sketch_only, out, progress):
    """Informal-to-formal translation (Draft-Sketch-Prove): sample formal sketches from informal proofs, close
    their gaps with automation then a small search, check the whole proof. Batch: rows to OUT/results.jsonl,
    proofs to OUT/proofs/. Single problem (--statement/--proof/--formal-statement or --problem): exit 0 if proved,
    1 if not. Without an informal proof, --draft-model drafts one first (the "Draft" of Draft-Sketch-Prove)."""
    from prover.drafts import DraftError, ModelDrafts, load_template
    from prover.translate import (ModelSketches, TranslateError, benchmark_problems, check_drivable, single_problem,
                                  translate_batch)

    plugin = plugin_named(backend)
    single = any(v is not None for v in (informal_statement, informal_proof, formal_statement, problem_file))
    if model == "none":
        raise UserError("translate needs a model to write sketches (--model none has none)")
    if draft_model is None and (redraft or draft_served_name is not None):
        raise UserError(f"{'--redraft' if redraft else '--draft-served-name'} needs --draft-model SPEC")
    if draft_model == "none":
        raise UserError("--draft-model none writes no drafts: name a model, or leave --draft-model out")
    try:
        load_template(draft_template)  # a bad template is refused before anything is written or loaded
    except DraftError as exc:
        raise UserError(str(exc)) from None
    if draft_served_name is None and draft_model == model:
        draft_served_name = model_settings.served_name
    draft_settings = DraftSettings(draft_template, draft_max_tokens, draft_temperature)
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
                                       header, can_draft=draft_model is not None)]
    except TranslateError as exc:
        raise UserError(str(exc)) from None
    if not single:
        if out is None:
            raise UserError("batch mode needs --out DIR")
        benchmark = benchmark or next(iter(plugin.benchmarks))
        problems = benchmark_problems(select_theorems(benchmark_theorems(plugin, benchmark, split), names, limit))
    temperature = model_settings.temperature
    config = TranslateConfig(samples=samples, max_tokens=sketch_max_tokens, temperature=temperature,
                             tactic_timeout=search_config.tactic_timeout, gap_search=search_config,
                             search_gaps=search_gaps, budget_seconds=budget_seconds, drive=not sketch_only,
                             drafts=drafts, redraft=redraft)
    if out is not None:
        run_config = {"command": "translate", "backend": backend, "benchmark": None if single else benchmark,
                      "split": None if single else split, "model": model, "limit": limit, "names": names,
                      "samples": samples, "max_tokens": sketch_max_tokens, "temperature": temperature,
                      "tactic_max_tokens": model_settings.max_tokens, "dtype": model_settings.dtype,
                      "gap_search": search_gaps, "gap_expansions": search_config.max_expansions,
                      "gap_budget_seconds": search_config.budget_seconds,
                      "num_candidates": search_config.num_candidates, "tactic_timeout": search_config.tactic_timeout,
                      "hammer": search_config.hammer, "hammer_timeout": search_config.hammer_timeout,
                      "budget_seconds": budget_seconds, "sketch_only": sketch_only, "draft_model": draft_model}
        if draft_model is not None:  # the draft settings matter only where something is drafted
            run_config.update(draft_served_name=draft_served_name, draft_template=draft_template, drafts=drafts,
                              draft_max_tokens=draft_max_tokens, draft_temperature=draft_temperature, redraft=redraft)
        check_model_spec(model, backend, model_settings)
        if draft_model is not None:
            check_model_spec(draft_model, backend, dataclasses.replace(model_settings, served_name=draft_served_name))
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
    generator = tactic_generator(model, backend, model_settings)
    source = ModelSketches(generator, backend, max_tokens=sketch_max_tokens, temperature=temperature)
    drafter = None
    needs_drafts = redraft or any(hasattr(p, "theorem") and not p.informal_proof.strip() for p in problems)
    if draft_model is not None and needs_drafts:  # a draft model no problem needs is not loaded
        same = draft_model == model and draft_served_name == model_settings.served_name
        draft_generator = generator if same else tactic_generator(
            draft_model, backend, dataclasses.replace(model_settings, served_name=draft_served_name))
        try:
            drafter = ModelDrafts(draft_generator, draft_settings)
        except DraftError as exc:
            raise UserError(str(exc)) from None
    run_dir = out
    if run_dir is None:
        import tempfile

        run_dir = Path(tempfile.mkdtemp(prefix="prover-translate-"))
        (run_dir / "proofs").mkdir()
    rows = []
    try:
        with prover_backend:
            for row in translate_batch(problems, prover_backend, source, generator, config, run_dir, plugin.file_suffix,
                                       progress and not single, drafter):
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
        drafted = f" from {len(row['drafts'])} draft(s)" if "drafts" in row else ""
        click.echo(f"{row['name']}: {row['status']} after {row.get('samples', 0)} sketch(es){drafted}{detail}")
        if out is None and row.get("proof"):
            click.echo(prover_backend.render_proof(problems[0].theorem, tuple(row["proof"])))
        sys.exit(0 if row["status"] == "proved" else 1)
    selected = {p.theorem.name if hasattr(p, "theorem") else p[0].name for p in problems}
    done = [r for r in read_rows(run_dir / RESULTS) if r["name"] in selected]
    drafted_by = f", drafts by {drafter.name}" if drafter is not None else ""
    click.echo(f"{benchmark} {split} translate [{source.name}, K={samples}{drafted_by}]: {summarize(done).line()}")


class _NoBackend:
    """--sketch-only: no proof assistant is started."""

    name = "none"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def close(self) -> None:
        pass
