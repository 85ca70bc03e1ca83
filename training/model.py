"""Building the model a config names: a Hugging Face causal LM, optionally resized, re-based and wrapped in LoRA."""
from __future__ import annotations

from pathlib import Path

import torch

from training.config import TrainConfig

RUN_MODEL_DIR = "model_config"  # in a run folder: the HF config and tokenizer the run trained, for export


class ModelError(ValueError):
    pass


def model_source(name: str) -> str:
    if name == "default":
        from model_store import default_model_dir

        return str(default_model_dir())
    return name


def load_tokenizer(source: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the tokenizer of {source}: {str(exc).splitlines()[0]}") from None


def hf_config(config: TrainConfig, source: str):
    from transformers import AutoConfig

    try:
        cfg = AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model config of {source}: {str(exc).splitlines()[0]}") from None
    for key, value in config.model_overrides.items():
        if not hasattr(cfg, key):
            raise ModelError(f"model_overrides: {type(cfg).__name__} has no field {key!r}")
        setattr(cfg, key, value)
    if config.rope_theta is not None:
        set_rope_theta(cfg, config.rope_theta)
    cfg.use_cache = False
    return cfg


def set_rope_theta(cfg, theta: float) -> None:
    """RoPE base: transformers 5 keeps it in `rope_parameters`, earlier versions in `rope_theta`."""
    params = getattr(cfg, "rope_parameters", None)
    if isinstance(params, dict):
        cfg.rope_parameters = {**params, "rope_theta": float(theta)}
    else:
        cfg.rope_theta = float(theta)


def rope_theta(cfg) -> float | None:
    params = getattr(cfg, "rope_parameters", None)
    if isinstance(params, dict) and "rope_theta" in params:
        return float(params["rope_theta"])
    return getattr(cfg, "rope_theta", None)


def build_model(config: TrainConfig, cfg, source: str, pretrained: bool | None = None):
    """fp32 master weights: mixed precision is autocast (one process) or FSDP's policy (several)."""
    from transformers import AutoModelForCausalLM

    pretrained = config.init == "pretrained" if pretrained is None else pretrained
    if pretrained:
        try:
            model = AutoModelForCausalLM.from_pretrained(source, config=cfg, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the weights of {source}: {str(exc).splitlines()[0]}") from None
    else:
        torch.manual_seed(config.seed)
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    if config.adapter:
        model = load_lora(model, config.adapter)
    elif config.lora:
        model = wrap_lora(model, config.lora)
    return model


def load_lora(model, folder: str):
    """Continue training an existing adapter (expert iteration's next round starts where the last one ended)."""
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError("LoRA needs peft: pip install peft") from None
    return PeftModel.from_pretrained(model, folder, is_trainable=True, torch_device="cpu")


def wrap_lora(model, lora: dict):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ModelError("LoRA needs peft: pip install peft") from None
    settings = LoraConfig(
        r=int(lora.get("r", 16)),
        lora_alpha=int(lora.get("alpha", 32)),
        lora_dropout=float(lora.get("dropout", 0.0)),
        target_modules=list(lora.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"])),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, settings)


def decoder_layers(model) -> list:
    """The repeated blocks FSDP shards one by one (Llama-style models: model.model.layers)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ModelError(f"{type(base).__name__}: no decoder layers at .model.layers to shard")
    return list(layers)


def save_run_model_files(run_dir: Path, cfg, tokenizer) -> None:
    folder = run_dir / RUN_MODEL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
