"""A checkpoint as a Hugging Face folder (`prover prove --model hf:FOLDER`), or as a LoRA adapter alone."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from model_store import MODEL_INFO
from training.checkpoint import CheckpointError, latest_checkpoint, load_model_weights
from training.config import ConfigError, load_config
from training.model import (
    RUN_MODEL_DIR,
    ModelError,
    build_model,
    hf_config,
    load_tokenizer,
)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_trained_model(ckpt: str | Path):
    """The model (LoRA still separate, if any), its tokenizer and its run config, from a run or checkpoint folder."""
    folder = latest_checkpoint(Path(ckpt))
    run_dir = folder.parent.parent
    try:
        config = load_config(json.loads((run_dir / "config.json").read_text()))
    except (OSError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{run_dir}: no readable config.json ({exc})") from None
    source = str(run_dir / RUN_MODEL_DIR)
    try:
        tokenizer = load_tokenizer(source)
        config.model_overrides, config.rope_theta = {}, None  # already in the saved model config
        cfg = hf_config(config, source)
        model = build_model(config, cfg, source, pretrained=False)  # the weights come from the checkpoint
    except ModelError as exc:
        raise CheckpointError(str(exc)) from None
    load_model_weights(folder, model)
    return model, tokenizer, config


def export_checkpoint(ckpt: str | Path, out: str | Path, dtype: str = "bfloat16", adapter_only: bool = False) -> Path:
    model, tokenizer, config = load_trained_model(ckpt)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    if adapter_only:
        if not config.uses_lora:
            raise CheckpointError("--adapter-only needs a LoRA run; this run trained every weight")
        # peft writes adapter_config.json and adapter_model.safetensors (plus a model card); the base's tokenizer serves
        model.to(DTYPES[dtype]).save_pretrained(tmp)
    else:
        if config.uses_lora:
            model = model.merge_and_unload()
        model.config.use_cache = True
        model.to(DTYPES[dtype]).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    if config.kind == "finetune":  # the prover picks the prompt format the model was trained on from this file
        info = {"prompt": "proofstep", "base": config.model, "data": config.data, "steps": config.steps,
                "lora": config.lora, "adapter": config.adapter or None}
        (tmp / MODEL_INFO).write_text(json.dumps(info, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
