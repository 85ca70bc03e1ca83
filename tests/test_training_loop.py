"""The training loop for real, on a tiny randomly initialised model with the default model's architecture and
tokenizer, on CPU: loss goes down, resume is bit-for-bit, FSDP2 runs on 2 gloo processes, export loads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from prover.proofsteps import ProofStep, write_proofsteps
from training.config import ConfigError, load_config
import torch

from training.model import build_model, hf_config, model_source
from training.train import lr_at, run_training

TINY = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
        "num_key_value_heads": 2}
SAMPLE = Path(__file__).resolve().parent / "data" / "proof-pile-2-sample" / "pp2_shaped_sample.jsonl.zst"
ROOT = Path(__file__).resolve().parents[1]


def _losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def proofsteps(tmp_path_factory) -> Path:
    """Synthetic proofstep rows (a fixture, not real extraction output): two tactics by goal shape."""
    rows = []
    for i in range(48):
        goal = f"n + {i} = {i} + n" if i % 2 else f"{i} * n = n * {i}"
        rows.append(ProofStep(state=f"1 goal\n  n : nat\n  ============================\n  {goal}",
                              tactic="lia." if i % 2 else "ring.", theorem=f"t{i}", source="synthetic",
                              split="valid" if i % 8 == 0 else "train"))
    path = tmp_path_factory.mktemp("steps") / "steps.jsonl"
    write_proofsteps(path, rows)
    return path


def _finetune_config(data: Path, out: Path, **changes) -> dict:
    config = {"kind": "finetune", "model": "default", "init": "random", "model_overrides": TINY, "data": str(data),
              "seq_len": 64, "batch_size": 8, "micro_batch": 4, "steps": 6, "lr": 3e-3, "warmup_steps": 2,
              "precision": "fp32", "eval_every": 3, "eval_batches": 2, "checkpoint_every": 3, "out": str(out)}
    config.update(changes)
    return config


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    from training.tokenize import tokenize_files

    out = tmp_path_factory.mktemp("tokens")
    tokenize_files([SAMPLE], out, workers=1, eval_fraction=0.05)
    return out


def _pretrain_config(data: Path, out: Path, **changes) -> dict:
    config = yaml.safe_load((ROOT / "training" / "configs" / "tiny_cpu.yaml").read_text())
    config.update(data=str(data), out=str(out), seq_len=64, steps=16, checkpoint_every=8, eval_every=8)
    config.update(changes)
    return config


def test_pretraining_on_the_sample_lowers_the_loss(shards, tmp_path):
    summary = run_training(load_config(_pretrain_config(shards, tmp_path / "run")))
    losses = _losses(tmp_path / "run")
    assert len(losses) == 16 and summary["step"] == 16
    assert sum(losses[-4:]) / 4 < losses[0] - 1.0  # from ~10.8 (uniform over 49k tokens) well down
    evals = [json.loads(line) for line in (tmp_path / "run" / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [8, 16] and evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    row = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["tokens"] == 8 * 64 and row["tokens_per_s"] > 0
    assert row["rows_per_s"] == pytest.approx(row["tokens_per_s"] / 64)  # 8 rows of 64 tokens a step


def test_an_interrupted_and_resumed_run_repeats_the_same_losses_bit_for_bit(shards, tmp_path):
    run_training(load_config(_pretrain_config(shards, tmp_path / "whole", steps=8, checkpoint_every=3)))
    config = _pretrain_config(shards, tmp_path / "split", steps=8, checkpoint_every=3)
    run_training(load_config(config), stop_after=5)  # stops after step 5 with a checkpoint there
    # Rows past the checkpoint we resume from are dropped and redone: simulate a crash after step 6's row.
    with (tmp_path / "split" / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 6, "loss": 0.0}) + "\n")
    run_training(load_config(config), resume=True)
    assert _losses(tmp_path / "split") == _losses(tmp_path / "whole")


def test_finetuning_puts_the_loss_on_the_tactic_and_lowers_it(proofsteps, tmp_path):
    run_training(load_config(_finetune_config(proofsteps, tmp_path / "ft", steps=20, checkpoint_every=20, eval_every=10)))
    losses = _losses(tmp_path / "ft")
    assert losses[-1] < losses[0] - 2.0
    from training.model import load_tokenizer, model_source
    from training.sft import IGNORE, ProofstepBatches

    tokenizer = load_tokenizer(model_source("default"))
    data = ProofstepBatches(str(proofsteps), tokenizer, 64)
    _, targets = data.batch(0, 0, 0, 0, 4, 1, 2)
    for row in range(4):
        supervised = targets[row][targets[row] != IGNORE].tolist()
        assert tokenizer.decode(supervised) in ("lia.\n", "ring.\n")
    assert data.batch(0, 3, 0, 1, 4, 1, 2)[0].equal(data.batch(0, 3, 0, 1, 4, 1, 2)[0])  # a pure function


def test_the_fsdp2_path_on_two_gloo_processes_matches_one_process(proofsteps, tmp_path):
    single = tmp_path / "single.yaml"
    single.write_text(yaml.safe_dump(_finetune_config(proofsteps, tmp_path / "one")))
    run_training(load_config(str(single)))
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(_finetune_config(proofsteps, tmp_path / "two")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                           "-m", "training", "finetune", "--config", str(two)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Same global batch split over two ranks: the same losses up to float reassociation.
    assert _losses(tmp_path / "two") == pytest.approx(_losses(tmp_path / "one"), abs=1e-4)
    # The sharded checkpoint reshards into one process for export.
    from click.testing import CliRunner

    from training.__main__ import main

    result = CliRunner().invoke(main, ["export", "--ckpt", str(tmp_path / "two"), "--out", str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hf" / "model.safetensors").is_file()


def test_an_exported_checkpoint_loads_in_the_provers_hf_generator(proofsteps, tmp_path):
    from click.testing import CliRunner

    from prover.hf_generator import HFGenerator
    from prover.types import Theorem
    from training.__main__ import main

    run_training(load_config(_finetune_config(proofsteps, tmp_path / "run", steps=3)))
    result = CliRunner().invoke(main, ["export", "--ckpt", str(tmp_path / "run"), "--out", str(tmp_path / "hf"),
                                       "--dtype", "float32"])
    assert result.exit_code == 0, result.output
    generator = HFGenerator(tmp_path / "hf", seed=0, max_new_tokens=8, dtype="float32")
    theorem = Theorem(name="t", statement="Theorem t : True.", header="", backend="rocq")
    from prover.testing import score_tactics

    scored = score_tactics(generator, theorem, "1 goal\n  ============================\n  True", ["lia.", "ring."])
    assert len(scored) == 2 and all(c.logprob < 0 for c in scored)


def test_lora_finetuning_trains_only_the_adapter_and_exports_it_alone(proofsteps, tmp_path):
    from training.export import export_checkpoint

    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    run_training(load_config(_finetune_config(proofsteps, tmp_path / "run", steps=3, lora=lora)))
    adapter = export_checkpoint(tmp_path / "run", tmp_path / "adapter", adapter_only=True)
    files = {p.name for p in adapter.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files and "model.safetensors" not in files
    merged = export_checkpoint(tmp_path / "run", tmp_path / "merged")
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()


def test_a_finetune_can_start_from_an_earlier_adapter_and_exports_a_lora_again(proofsteps, tmp_path):
    from safetensors.torch import load_file

    from training.export import export_checkpoint

    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    run_training(load_config(_finetune_config(proofsteps, tmp_path / "r0", steps=3, lora=lora)))
    first = export_checkpoint(tmp_path / "r0", tmp_path / "a0", adapter_only=True, dtype="float32")
    config = load_config(_finetune_config(proofsteps, tmp_path / "r1", steps=2, adapter=str(first)))
    cfg = hf_config(config, model_source(config.model))
    model = build_model(config, cfg, model_source(config.model))
    trained = load_file(first / "adapter_model.safetensors")
    start = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert len(start) == len(trained) > 0
    for name, tensor in trained.items():  # peft names saved tensors without the adapter name
        match = [v for k, v in start.items() if k.replace(".default", "") == name]
        assert match and torch.equal(match[0], tensor), name
    run_training(config)
    again = export_checkpoint(tmp_path / "r1", tmp_path / "a1", adapter_only=True)
    assert (again / "adapter_config.json").is_file()
    with pytest.raises(ConfigError, match="not a LoRA adapter folder"):
        load_config(_finetune_config(proofsteps, tmp_path / "r2", adapter=str(tmp_path))).validate()


def test_the_schedule_warms_up_then_decays_by_cosine_to_a_thirtieth():
    config = load_config("llemma_7b")
    assert (config.lr, config.warmup_steps, config.steps, config.seq_len, config.batch_size) == (1e-4, 500, 48000, 4096, 1024)
    assert config.rope_theta == 10000.0 and config.betas == (0.9, 0.95) and config.weight_decay == 0.1
    assert lr_at(config, 0) == pytest.approx(1 / 500) and lr_at(config, 499) == pytest.approx(1.0)
    assert lr_at(config, 48000) == pytest.approx(1 / 30, rel=1e-6)
    assert load_config("llemma_34b").lr == 5e-5 and load_config("llemma_34b").steps == 12000


def test_numbers_written_without_a_dot_are_read_as_numbers():
    # YAML 1.1 (PyYAML) reads 5e-4 as a string; --set lr=5e-4 must still mean 0.0005
    config = load_config("proofstep_lora_cpu", ["lr=5e-4", "min_lr_ratio=1e-1"])
    assert config.lr == 5e-4 and config.min_lr_ratio == 0.1


def test_the_rope_base_override_reaches_the_model_config():
    from training.model import hf_config, model_source, rope_theta

    config = load_config(_finetune_config("x", "y", rope_theta=10000.0))
    assert rope_theta(hf_config(config, model_source("default"))) == 10000.0


@pytest.mark.parametrize("args, message", [
    (["pretrain", "--config", "no_such_config"], "unknown config 'no_such_config'"),
    (["pretrain", "--config", "tiny_cpu", "--set", "nonsense=1"], "unknown config field 'nonsense'"),
    (["pretrain", "--config", "tiny_cpu", "--set", "data=/nonexistent/shards"], "error:"),
    (["finetune", "--config", "tiny_cpu"], "this is a pretrain config"),
    (["pretrain", "--config", "tiny_cpu", "--set", "lr=fast"], "lr must be a number, not 'fast'"),
    (["export", "--ckpt", "/nonexistent/run", "--out", "/tmp/never"], "no complete checkpoint"),
])
def test_bad_input_gets_one_line_and_exit_code_2(args, message, tmp_path):
    from click.testing import CliRunner

    from training.__main__ import main

    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")] if args[0] != "export" else args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], result.output


def test_the_module_entry_point_exits_2_with_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "training", "pretrain", "--config", "no_such_config"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown config 'no_such_config'"), proc.stderr


def test_a_run_folder_is_not_overwritten_without_resume(proofsteps, tmp_path):
    config = _finetune_config(proofsteps, tmp_path / "run", steps=1)
    run_training(load_config(config))
    with pytest.raises(Exception, match="already holds a run"):
        run_training(load_config(config))
    with pytest.raises(ConfigError, match="not a multiple of micro_batch"):
        load_config({**config, "batch_size": 7}).validate()
