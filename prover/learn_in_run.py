"""Learning within a run: once a batch has tried every theorem, fine-tune its model briefly on the proofs the batch
found (its own verified search steps: no labels are used), then try the theorems it has not proved again with the
fine-tuned model; up to `rounds` times, each round learning from every proof found so far.

OUT/learn/round_K/steps.jsonl   the proofstep rows round K trains on (written once, so a resumed round trains on
                                the same ones)
OUT/learn/round_K/train/, model/   the fine-tuning run (`python -m training finetune`, resumable) and its export
OUT/learn/round_K/prove/        the retry's run folder (resumable like any other)
OUT/learn/rounds.jsonl          one row per finished round: rows trained on, theorems retried, proved, seconds
A theorem a round proves gets a new row in OUT/results.jsonl (with its proof file and tree), its `model` the
fine-tuned one and `learned_round` K: each row says which model proved its theorem.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from prover.batch import RESULTS, TREES, latest_rows, read_rows, record_result, stored_name
from prover.jsonl import append_row
from prover.proofsteps import read_proofsteps, write_proofsteps
from prover.search import SearchConfig, Status
from prover.train_data import collect_proofsteps

LEARN = "learn"  # OUT/learn/
ROUNDS = "rounds.jsonl"
# A brief fine-tune: a few passes over a batch's own proofs (tens to hundreds of rows), not a training run.
BRIEF = ("steps=20", "warmup_steps=2", "lr=3e-4", "eval_every=0", "checkpoint_every=10")


class LearnError(RuntimeError):
    """Learning cannot run with these settings; the message is one printable line."""


@dataclass(frozen=True)
class LearnSettings:
    rounds: int = 1
    train_config: str = "proofstep_lora_cpu"  # a training config name or YAML path (kind: finetune)
    train_set: list = field(default_factory=list)  # KEY=VALUE overrides, after BRIEF and the model's own


def model_training_set(model: str, backend: str) -> list[str]:
    """The training overrides that start fine-tuning from the `--model` in use: the default model continues its
    shipped adapter, a local model folder is fine-tuned with a fresh LoRA. LearnError for a model this process
    cannot train (a server, vLLM, rules, none)."""
    from prover.adapters import shipped_adapter

    if model in ("default", "base"):
        adapter = shipped_adapter(backend) if model == "default" else None
        return ["model=default", f"adapter={adapter or ''}"]
    path = Path(model.removeprefix("hf:"))
    if ":" in model and not model.startswith("hf:") or not (path / "config.json").is_file():
        raise LearnError(f"--learn-rounds fine-tunes the model in this process: use --model default, base or hf:FOLDER "
                         f"(a local model folder), not {model!r}")
    return [f"model={path}"]


def learn_and_retry(settings: LearnSettings, theorems: list, plugin, model: str, model_settings, config: SearchConfig,
                    out: Path, progress: bool = True, echo=print) -> list[dict]:
    """The rounds after a batch's first pass (OUT holds a row for every theorem, and its trees); returns the round
    rows."""
    from prover.iterate import prove_run, train_and_export

    base_set = [*BRIEF, *model_training_set(model, plugin.name), *settings.train_set]
    learn_dir = out / LEARN
    learn_dir.mkdir(exist_ok=True)
    done = {row["round"]: row for row in read_rows(learn_dir / ROUNDS, required=())}
    splits = {t.split for t in theorems}
    for k in range(1, settings.rounds + 1):
        if k in done:
            continue
        t0 = time.monotonic()
        latest = {row["name"]: row for row in latest_rows(read_rows(out / RESULTS))}
        todo = [t for t in theorems if latest.get(t.name, {}).get("status") in (Status.FAILED.value,
                                                                                 Status.TIMEOUT.value)]
        round_dir = learn_dir / f"round_{k}"
        steps_file = round_dir / "steps.jsonl"
        if not steps_file.is_file():
            steps = collect_proofsteps([out], splits=splits)
            if not todo or not steps:
                echo(f"learning stops before round {k}: " + ("every theorem is settled" if not todo
                                                             else "no proof found yet to learn from"))
                break
            round_dir.mkdir(exist_ok=True)
            # The run's own proofs are what it trains on, whatever split its theorems come from.
            write_proofsteps(steps_file, [replace(step, split="train") for step in steps])
        rows_trained = len(read_proofsteps(steps_file))
        model_dir = train_and_export(settings.train_config, base_set, [str(steps_file)], round_dir)
        learned = f"hf:{model_dir}"
        run_dir = round_dir / "prove"
        prove_run(plugin, todo, config, learned, model_settings, run_dir, progress, {"learned_round": k})
        proved = adopt_proofs(out, run_dir, {t.name for t in todo}, k, plugin.file_suffix)
        row = {"round": k, "model": learned, "rows_trained": rows_trained, "retried": len(todo), "proved": proved,
               "seconds": round(time.monotonic() - t0, 1)}
        append_row(learn_dir / ROUNDS, row)
        echo(json.dumps(row))
        done[k] = row
    return [done[k] for k in sorted(done)]


def adopt_proofs(out: Path, run_dir: Path, names: set[str], learned_round: int, suffix: str) -> int:
    """Copy the proofs a retry run folder found for `names` into the run folder `out` (proof file, tree, and the
    row marked with `learned_round`); returns how many. Copying one again (a resumed round) only repeats its row."""
    count = 0
    for row in latest_rows(read_rows(run_dir / RESULTS)):
        if row["name"] not in names or row["status"] != Status.PROVED.value:
            continue
        stored = stored_name(row["name"])
        script = (run_dir / "proofs" / f"{stored}{suffix}").read_text(encoding="utf-8")
        tree_path = run_dir / TREES / f"{stored}.json"
        tree = json.loads(tree_path.read_text(encoding="utf-8")) if tree_path.is_file() else None
        record_result(out, {**row, "learned_round": learned_round}, script, suffix, tree)
        count += 1
    return count
