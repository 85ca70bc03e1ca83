"""Benchmark: tokens/s of the training loop over a bare forward+backward+AdamW-step loop on the same model.

value = median over rounds of (loop tokens/s / bare tokens/s), target >= 0.9, where
  loop = `training.train.run_training` on a pretraining mixture (the sample, tokenized here), its per-step
      seconds as metrics.jsonl records them: building the batches from the memmapped shards, the token
      count, the micro-steps with their loss scaling, gradient clipping, the optimizer and the schedule;
  bare = the same architecture, batch shape and optimizer on a fixed random batch: nothing but
      forward, cross-entropy, backward, step, zero_grad.
The first step of each arm is dropped (allocator warm-up). Arms alternate so other load hits both alike.
Checkpoints and eval are outside the timed steps (they are periodic costs a config chooses).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET = ">=0.9"
ROUNDS = 3
STEPS = 6
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "proof-pile-2-sample" / "pp2_shaped_sample.jsonl.zst"
MODEL = {"num_hidden_layers": 4, "hidden_size": 256, "intermediate_size": 768, "num_attention_heads": 4,
         "num_key_value_heads": 2}
SEQ, MICRO, BATCH = 256, 4, 8


def _config(data: Path, out: Path) -> dict:
    return {"kind": "pretrain", "model": "default", "init": "random", "model_overrides": MODEL, "data": str(data),
            "mixture": {"open-web-math": 4, "algebraic-stack(mathstack-dev)": 1}, "seq_len": SEQ,
            "batch_size": BATCH, "micro_batch": MICRO, "steps": STEPS, "lr": 1e-3, "warmup_steps": 2,
            "precision": "fp32", "eval_every": 0, "checkpoint_every": STEPS, "out": str(out)}


def _loop_tokens_per_s(data: Path, out: Path) -> float:
    import json

    from training.config import load_config
    from training.train import run_training

    run_training(load_config(_config(data, out)))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][1:]
    return sum(r["tokens"] for r in rows) / sum(r["seconds"] for r in rows)


def _bare_tokens_per_s(data: Path) -> float:
    import torch
    import torch.nn.functional as F

    from training.config import load_config
    from training.model import build_model, hf_config, model_source

    config = load_config(_config(data, Path("unused")))
    model = build_model(config, hf_config(config, model_source("default")), model_source("default"))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=True)
    batch = torch.randint(0, model.config.vocab_size, (MICRO, SEQ + 1))
    times = []
    for _ in range(STEPS):
        t0 = time.perf_counter()
        for _ in range(BATCH // MICRO):
            logits = model(input_ids=batch[:, :-1], use_cache=False).logits
            F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return BATCH * SEQ * (STEPS - 1) / sum(times[1:])


def train_loop_efficiency() -> tuple[float, str]:
    from training.tokenize import tokenize_files

    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tokens"
        tokenize_files([SAMPLE], data, workers=1)
        for round_ in range(ROUNDS):
            loop = _loop_tokens_per_s(data, Path(tmp) / f"run{round_}")
            bare = _bare_tokens_per_s(data)
            ratios.append(loop / bare)
            print(f"train_loop_efficiency round {round_}: loop {loop:.0f} tok/s, bare {bare:.0f} tok/s", file=sys.stderr)
    return statistics.median(ratios), TARGET
