"""The training loop: one readable function, the same for one CPU process and for FSDP2 under torchrun.

Each optimizer step averages the loss over every target token of `batch_size` sequences (all ranks, all
micro-steps), so gradient accumulation and world size leave the update unchanged. Batches are a pure
function of (seed, step, rank, micro-step): resuming needs only the checkpoint's step.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from training.config import ConfigError, TrainConfig
from training.model import (
    ModelError,
    build_model,
    decoder_layers,
    hf_config,
    load_tokenizer,
    model_source,
    save_run_model_files,
)
from training.sft import IGNORE, ProofstepBatches, SFTDataError

# Dense bf16 peak FLOP/s per GPU, for MFU (model FLOPs utilisation); GPUs not listed report no MFU.
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


class TrainingError(RuntimeError):
    pass


def lr_at(config: TrainConfig, step: int) -> float:
    """Multiplier of the peak lr at an optimizer step: linear warmup, then cosine down to min_lr_ratio."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def param_groups(model, weight_decay: float) -> list[dict]:
    # Matrices decay; norms, biases and other vectors do not (the usual GPT/Llama recipe).
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


class Distributed:
    """The torchrun environment (or a single process)."""

    def __init__(self):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{self.local_rank}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if cuda else "gloo")
        self.main = self.rank == 0

    def sum(self, value: float) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(tensor)
        return float(tensor.item())

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


class PretrainBatches:
    """The token-shard mixture as (inputs, targets) pairs."""

    def __init__(self, config: TrainConfig):
        from training.data import DataError, Mixture

        try:
            self.mixture = Mixture(config.data, config.mixture, split="train")
        except DataError as exc:
            raise TrainingError(str(exc)) from None
        try:
            self.eval_mixture = Mixture(config.data, config.mixture, split="eval") if config.eval_batches else None
        except DataError:  # some subset holds no held-out tokens: no eval loss, training goes on
            self.eval_mixture = None
        self.config = config

    def batch(self, step: int, rank: int, micro: int, world_size: int, accum: int):
        c = self.config
        tokens = self.mixture.batch(c.seed, step, rank, micro, c.micro_batch, c.seq_len)
        return tokens[:, :-1], tokens[:, 1:]

    def eval_batches(self):
        if self.eval_mixture is None:
            return []
        batches = self.eval_mixture.eval_batches(self.config.micro_batch, self.config.seq_len, self.config.eval_batches)
        return [(b[:, :-1], b[:, 1:]) for b in batches]


class FinetuneBatches:
    def __init__(self, config: TrainConfig, tokenizer):
        try:
            self.train = ProofstepBatches(config.data, tokenizer, config.seq_len, splits=("train",))
        except SFTDataError as exc:
            raise TrainingError(str(exc)) from None
        try:
            self.valid = ProofstepBatches(config.data, tokenizer, config.seq_len, splits=("valid",))
        except SFTDataError:
            self.valid = None  # no held-out rows: no eval loss
        self.config = config

    def batch(self, step: int, rank: int, micro: int, world_size: int, accum: int):
        c = self.config
        return self.train.batch(c.seed, step, rank, micro, c.micro_batch, world_size, accum)

    def eval_batches(self):
        return self.valid.eval_batches(self.config.micro_batch, self.config.eval_batches) if self.valid else []


def uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    return config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")


def autocast(config: TrainConfig, device: torch.device, sharded: bool):
    if not uses_bf16(config, device) or sharded:  # under FSDP the mixed-precision policy casts instead
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def shard(model, config: TrainConfig, device: torch.device) -> None:
    """FSDP2: each decoder layer is its own unit, then the root (embeddings, final norm, head)."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if uses_bf16(config, device)
              else MixedPrecisionPolicy())
    for layer in decoder_layers(model):
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)


def token_loss_sum(model, inputs, targets, cast) -> torch.Tensor:
    """Summed cross-entropy over the target tokens. The LM head runs only where there is a target: in
    fine-tuning most positions are prompt, and the head over a 49k vocabulary is a fifth of a small model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body, head = getattr(base, "model", None), getattr(base, "lm_head", None)
    with cast():
        if body is None or head is None or isinstance(base, torch.distributed.fsdp.FSDPModule):
            logits = model(input_ids=inputs, use_cache=False).logits.reshape(-1, base.config.vocab_size)
            targets = targets.reshape(-1)
        else:
            hidden = body(input_ids=inputs, use_cache=False).last_hidden_state
            keep = targets != IGNORE
            logits, targets = head(hidden[keep]), targets[keep]
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE, reduction="sum")


@torch.no_grad()
def evaluate(model, batches, device, cast, env: Distributed) -> dict | None:
    if not batches:
        return None
    model.eval()
    total, count = 0.0, 0
    for inputs, targets in batches:
        total += float(token_loss_sum(model, inputs.to(device), targets.to(device), cast))
        count += int((targets != IGNORE).sum())
    model.train()
    loss = env.sum(total) / max(1.0, env.sum(count))
    return {"eval_loss": loss, "eval_ppl": math.exp(min(loss, 50.0))}


def flops_per_token(model, cfg, seq_len: int) -> float:
    # nanoGPT's estimate: 6N for the matmuls forward and backward, plus attention's 12·L·H·T.
    n = sum(p.numel() for p in model.parameters())
    return 6 * n + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq_len


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


class MetricsLog:
    """metrics.jsonl (one row per step) and eval.jsonl on rank 0; optionally TensorBoard too."""

    def __init__(self, run_dir: Path, resume_step: int, tensorboard: bool):
        self.paths = [run_dir / "metrics.jsonl", run_dir / "eval.jsonl"]
        for path in self.paths:  # rows past the checkpoint came from the interrupted run: they are redone
            if path.exists():
                rows = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= resume_step]
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(r + "\n" for r in rows))
                os.replace(tmp, path)
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise TrainingError("tensorboard logging needs tensorboard: pip install 'llemma-prover[train]'") from None
            self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, row: dict, eval_row: bool = False) -> None:
        with open(self.paths[eval_row], "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_training(config: TrainConfig, resume: bool = False, stop_after: int | None = None) -> dict | None:
    """Train to config.steps (or stop after `stop_after` steps, schedule unchanged); rank 0 returns a summary."""
    config.validate()
    env = Distributed()
    try:
        return _train(config, env, resume, stop_after)
    except (ModelError, CheckpointError, SFTDataError, ConfigError) as exc:
        raise TrainingError(str(exc)) from None
    finally:
        env.close()


def _train(config: TrainConfig, env: Distributed, resume: bool, stop_after: int | None) -> dict | None:
    run_dir = Path(config.out)
    if resume:
        checkpoint = latest_checkpoint(run_dir)
    elif (run_dir / "metrics.jsonl").exists():
        raise TrainingError(f"{run_dir} already holds a run: pass --resume to continue it, or another --out")
    accum = config.grad_accum(env.world_size)
    source = model_source(config.model)
    tokenizer = load_tokenizer(source)
    cfg = hf_config(config, source)
    data = PretrainBatches(config) if config.kind == "pretrain" else FinetuneBatches(config, tokenizer)

    model = build_model(config, cfg, source)
    if config.activation_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(env.device)
    sharded = env.world_size > 1
    if sharded:
        shard(model, config, env.device)
    model.train()
    cast = autocast(config, env.device, sharded)
    optimizer = torch.optim.AdamW(param_groups(model, config.weight_decay), lr=config.lr, betas=tuple(config.betas),
                                  eps=config.eps, foreach=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(config, step))

    start = 0
    if resume:
        start = load_checkpoint(checkpoint, model, optimizer, scheduler)
    if env.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
        save_run_model_files(run_dir, cfg, tokenizer)
    log = MetricsLog(run_dir, start, config.tensorboard) if env.main else None
    per_token = flops_per_token(model, cfg, config.seq_len)
    peak = peak_flops(env.device)
    end = config.steps if stop_after is None else min(config.steps, stop_after)
    last = {"step": start}
    eval_data = data.eval_batches() if config.eval_every else []

    for step in range(start, end):
        t0 = time.perf_counter()
        batches = [data.batch(step, env.rank, micro, env.world_size, accum) for micro in range(accum)]
        targets = env.sum(sum(int((y != IGNORE).sum()) for _, y in batches))
        tokens = env.sum(sum(x.numel() for x, _ in batches))
        rows = env.sum(sum(x.shape[0] for x, _ in batches))  # sequences: proofstep rows when fine-tuning
        loss_sum = 0.0
        for inputs, labels in batches:
            # Scaled so the averaged gradients (FSDP divides by world size) are the mean over every target token.
            loss = token_loss_sum(model, inputs.to(env.device), labels.to(env.device), cast)
            (loss * env.world_size / targets).backward()
            loss_sum += float(loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        if env.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        done = step + 1
        row = {"step": done, "loss": env.sum(loss_sum) / targets, "lr": lr, "grad_norm": float(grad_norm),
               "tokens": int(tokens), "tokens_per_s": tokens / seconds, "rows_per_s": rows / seconds,
               "seconds": round(seconds, 4)}
        if peak:
            row["mfu"] = row["tokens_per_s"] * per_token / (peak * env.world_size)
        if log and (done % config.log_every == 0 or done == end):
            log.write(row)
        last = row
        if config.eval_every and (done % config.eval_every == 0 or done == config.steps):
            result = evaluate(model, eval_data, env.device, cast, env)
            if result and log:
                log.write({"step": done, **result}, eval_row=True)
                last = {**last, **result}
        if done % config.checkpoint_every == 0 or done == end:
            save_checkpoint(run_dir, done, model, optimizer, scheduler, config.keep_checkpoints)
    if log:
        log.close()
    return {"out": str(run_dir), **last} if env.main else None
