"""Expert iteration: prove a training split, add the successful search steps to the fine-tuning data,
fine-tune, prove again with the new model (Polu et al. 2022; the loop behind Llemma-style provers).
With `corpus_theorems` (`prover extract`'s OUT.theorems.jsonl), each round also proves the extracted corpus'
held-out valid theorems, and their proofs join the data too. With `curriculum_count`, each round also proves that
many synthetic curriculum theorems the model picks itself (prover.next_problems: the previous round's near misses
again, topped up with fresh draws weighted to the families it did best on); their proofs join the data as well.

OUT/iterate.json        the settings (a rerun with other settings is refused; the same command resumes)
OUT/rounds.jsonl        one row per round: the model, its pass rate on the split, the data sizes
OUT/round_R/prove/      the round's `prover prove` run folder (results, proofs, search trees)
OUT/round_R/prove-corpus/  the same for the corpus' held-out theorems
OUT/round_R/curriculum.jsonl     the round's curriculum problems (theorem, family, tries), chosen before proving
OUT/round_R/prove-curriculum/    the run folder proving them
OUT/round_R/steps.jsonl proofstep rows from the proofs of every round so far (deduplicated)
OUT/round_R/train/      the fine-tuning run (`python -m training finetune`)
OUT/round_R/model/      its export: the next round's model
Rounds 0..K-1 each prove then train; round K only proves, so the last model's pass rate is measured too.
Training runs in a child process (`python -m training`): the prover stays free of the training stack's
state, and an interrupted training resumes from its checkpoint.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from prover import jsonl
from prover.batch import RESULTS, prepare_run_dir, prove_batch, read_rows, summarize
from prover.jsonl import append_row, write_atomic
from prover.next_problems import (choose_problems, family_error, read_attempts, read_problems, round_summary,
                                  write_problems)
from prover.plugins import DEFAULT_BACKEND, DEFAULT_BENCHMARK
from prover.proofsteps import read_proofsteps, write_proofsteps
from prover.search import SearchConfig
from prover.train_data import collect_proofsteps

ROUNDS = "rounds.jsonl"
SETTINGS = "iterate.json"
PROBLEMS = "curriculum.jsonl"  # OUT/round_R/curriculum.jsonl
RUN_FOLDERS = ("prove", "prove-corpus", "prove-curriculum")  # a round's `prover prove` runs, whose proofs are data


class IterateError(RuntimeError):
    """A stage of the loop failed; the message is one printable line."""


@dataclass
class IterateSettings:
    backend: str = DEFAULT_BACKEND
    benchmark: str = DEFAULT_BENCHMARK
    split: str = "valid"
    rounds: int = 2
    model: str = "base"  # round 0's model
    train_config: str = "proofstep_lora_cpu"  # a training config name or YAML path (kind: finetune)
    train_set: list = field(default_factory=list)  # KEY=VALUE overrides for it
    corpus: list = field(default_factory=list)  # proofstep files every round trains on (e.g. `prover extract`'s)
    search_weight: int = 4  # the search steps are repeated this often in the data: few, but in-distribution
    limit: int | None = None
    names: list = field(default_factory=list)  # only these theorems of the split
    corpus_theorems: list = field(default_factory=list)  # held-out theorem files of extracted corpora (valid ones)
    corpus_theorems_limit: int | None = None  # only the first N of them
    curriculum_count: int = 0  # curriculum theorems each round proves besides the split (0: none)
    curriculum_families: list = field(default_factory=list)  # the families they are drawn from (the backend's order)
    curriculum_seed: int = 0  # round R draws fresh ones with seed curriculum_seed + 1000 R
    search: dict = field(default_factory=dict)  # SearchConfig fields
    model_settings: dict = field(default_factory=dict)  # ModelSettings fields


def _run(command: list[str], log: Path) -> None:
    with open(log, "a") as f:
        proc = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise IterateError(f"`{' '.join(command[1:4])} ...` failed (exit {proc.returncode}): {tail[0]} (log: {log})")


def train_round(settings: IterateSettings, data: list[str], round_dir: Path) -> Path:
    """Fine-tune (resuming an interrupted run) and export; returns the exported model folder."""
    return train_and_export(settings.train_config, settings.train_set, data, round_dir)


def train_and_export(train_config: str, train_set: list[str], data: list[str], round_dir: Path) -> Path:
    """`python -m training finetune` with config `train_config` (a name or YAML path) and KEY=VALUE overrides
    `train_set`, on the proofstep files `data`, into round_dir/train (resuming an interrupted run), then exported to
    round_dir/model; returns that folder (at once where it is there already)."""
    model_dir, train_dir = round_dir / "model", round_dir / "train"
    if (model_dir / "config.json").is_file():
        return model_dir
    resume = ["--resume"] if (train_dir / "checkpoints").is_dir() and any((train_dir / "checkpoints").glob("step_*")) else []
    if not resume and train_dir.exists():
        shutil.rmtree(train_dir)  # started but never checkpointed: nothing to keep
    sets = [item for kv in [*train_set, f"data={','.join(data)}"] for item in ("--set", kv)]
    log = round_dir / "train.log"
    _run([sys.executable, "-m", "training", "finetune", "--config", train_config, "--out", str(train_dir),
          *sets, *resume], log)
    _run([sys.executable, "-m", "training", "export", "--ckpt", str(train_dir), "--out", str(model_dir)], log)
    return model_dir


def _last_metrics(train_dir: Path) -> dict:
    out = {}
    for name, keys in (("metrics.jsonl", ("loss",)), ("eval.jsonl", ("eval_loss",))):
        path = train_dir / name
        for row in jsonl.read_rows(path, tail="skip")[-1:] if path.is_file() else []:
            out.update({k: row[k] for k in keys if k in row})
    return out


def iterate(settings: IterateSettings, out: Path, plugin, progress: bool = True, echo=print) -> list[dict]:
    if settings.split == "test":
        raise IterateError("expert iteration trains on what it proves: use a training split, never test")
    out.mkdir(parents=True, exist_ok=True)
    saved = out / SETTINGS
    # A folder written before a setting existed holds that setting's default.
    if saved.is_file() and {**asdict(IterateSettings()), **json.loads(saved.read_text())} != asdict(settings):
        raise IterateError(f"{out} holds an iteration with other settings: use another --out")
    write_atomic(saved, json.dumps(asdict(settings), indent=1))
    done = {row["round"]: row for row in read_rows(out / ROUNDS, required=())}  # round rows have no name
    theorems = plugin.benchmarks[settings.benchmark](settings.split)
    if settings.names:
        by_name = {t.name: t for t in theorems}
        missing = [n for n in settings.names if n not in by_name]
        if missing:
            raise IterateError(f"no theorem named {missing[0]!r} in {settings.benchmark} {settings.split}")
        theorems = [by_name[n] for n in settings.names]
    theorems = list(theorems[: settings.limit] if settings.limit else theorems)
    corpus_theorems = _corpus_theorems(settings, plugin)
    _check_curriculum(settings, plugin)
    corpus_rows = sum(len(read_proofsteps(p)) for p in settings.corpus)
    config = SearchConfig(**settings.search)
    model = settings.model
    for r in range(settings.rounds + 1):
        round_dir = out / f"round_{r}"
        if r in done:
            model = done[r].get("next_model") or model
            continue
        t0 = time.monotonic()
        round_dir.mkdir(exist_ok=True)
        rows = _prove(settings, plugin, theorems, config, model, round_dir / "prove", progress,
                      {"benchmark": settings.benchmark, "split": settings.split, "limit": settings.limit,
                       "names": settings.names or None})
        summary = summarize(rows)
        row = {"round": r, "model": model, "split": settings.split, "attempted": summary.attempted,
               "proved": summary.proved, "pass_rate": summary.proved / max(1, summary.attempted)}
        if corpus_theorems:
            corpus = summarize(_prove(settings, plugin, corpus_theorems, config, model, round_dir / "prove-corpus",
                                      progress, {"benchmark": "corpus", "split": "valid",
                                                 "theorems": settings.corpus_theorems,
                                                 "limit": settings.corpus_theorems_limit}))
            row.update(corpus_attempted=corpus.attempted, corpus_proved=corpus.proved,
                       corpus_pass_rate=corpus.proved / max(1, corpus.attempted))
        if settings.curriculum_count:
            row.update(_prove_curriculum(settings, plugin, out, r, config, model, progress))
        if r < settings.rounds:
            runs = [out / f"round_{i}" / name for i in range(r + 1) for name in RUN_FOLDERS
                    if (out / f"round_{i}" / name).is_dir()]
            # curriculum theorems are split train; the split iterated on is never test
            steps = collect_proofsteps(runs, splits=(settings.split, "valid", "train"))
            steps_file = round_dir / "steps.jsonl"
            write_proofsteps(steps_file, [_as_train(s) for s in steps])
            data = [*settings.corpus, *[str(steps_file)] * settings.search_weight]
            model_dir = train_round(settings, data, round_dir)
            row.update(search_steps=len(steps), corpus_rows=corpus_rows,
                       train_rows=corpus_rows + settings.search_weight * len(steps), **_last_metrics(round_dir / "train"),
                       next_model=f"hf:{model_dir}")
            model = row["next_model"]
        row["seconds"] = round(time.monotonic() - t0, 1)
        append_row(out / ROUNDS, row)
        echo(json.dumps(row))
        done[r] = row
    return [done[r] for r in sorted(done)]


def _corpus_theorems(settings: IterateSettings, plugin) -> list:
    if not settings.corpus_theorems:
        return []
    if plugin.heldout_theorems is None:
        raise IterateError(f"the {settings.backend} backend has no held-out corpus theorems (--corpus-theorems)")
    try:
        found = [t for path in settings.corpus_theorems for t in plugin.heldout_theorems(path, "valid")]
    except ValueError as exc:
        raise IterateError(str(exc)) from None
    return found[: settings.corpus_theorems_limit] if settings.corpus_theorems_limit else found


def _check_curriculum(settings: IterateSettings, plugin) -> None:
    if not settings.curriculum_count:
        return
    if plugin.curriculum_theorems is None:
        raise IterateError(f"the {settings.backend} backend has no curriculum (--curriculum-count)")
    error = family_error(settings.curriculum_families, plugin.curriculum_families)
    if error:
        raise IterateError(error)


def _prove_curriculum(settings: IterateSettings, plugin, out: Path, r: int, config: SearchConfig, model: str,
                      progress: bool) -> dict:
    """Choose round `r`'s curriculum problems from what round r-1 did with its own, prove them, and return the round
    row's curriculum fields. The choice depends only on finished rounds' folders, so a resumed round makes it again."""
    previous = []
    if r > 0:
        before = out / f"round_{r - 1}"
        previous = read_attempts(before / "prove-curriculum", read_problems(before / PROBLEMS))
    try:
        choice = choose_problems(previous, settings.curriculum_families, settings.curriculum_count,
                                 settings.curriculum_seed, r, plugin.curriculum_theorems)
    except ValueError as exc:
        raise IterateError(str(exc)) from None
    round_dir = out / f"round_{r}"
    write_problems(round_dir / PROBLEMS, choice.problems)
    selection = {"benchmark": "curriculum", "split": "train", "families": settings.curriculum_families,
                 "count": settings.curriculum_count, "seed": settings.curriculum_seed, "round": r}
    run_dir = round_dir / "prove-curriculum"
    _prove(settings, plugin, [p.theorem for p in choice.problems], config, model, run_dir, progress, selection)
    return round_summary(choice, read_attempts(run_dir, choice.problems), settings.curriculum_families)


def _as_train(step):
    # Proofs of the split being iterated on are this loop's training data (the split is never test).
    return replace(step, split="train")


def _prove(settings: IterateSettings, plugin, theorems, config: SearchConfig, model: str, run_dir: Path, progress: bool,
           selection: dict):
    """Prove `theorems` into the run folder `run_dir` (resuming it); `selection` says in its config what they are."""
    from prover.models import ModelSettings

    return prove_run(plugin, theorems, config, model, ModelSettings(**settings.model_settings), run_dir, progress,
                     selection)


def prove_run(plugin, theorems, config: SearchConfig, model: str, model_settings, run_dir: Path, progress: bool,
              selection: dict) -> list[dict]:
    """Prove `theorems` with `model` into the run folder `run_dir` (resuming it, trees kept: they are the data);
    `selection` says in its config what they are. Returns their rows."""
    from prover.models import load_generator

    prepare_run_dir(run_dir, {"backend": plugin.name, **selection, "model": model, **vars(config),
                              **vars(model_settings), "trees": True})
    generator = load_generator(model, plugin.name, model_settings)
    with plugin.make_backend() as backend:
        for _ in prove_batch(theorems, backend, generator, config, run_dir, plugin.file_suffix, progress):
            pass
    names = {t.name for t in theorems}
    return [row for row in read_rows(run_dir / RESULTS) if row["name"] in names]
