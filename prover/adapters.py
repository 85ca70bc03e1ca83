"""Adapters shipped in the package: `--model default` is the base model (SmolLM2-135M from PyPI) with the
backend's LoRA adapter merged in, so the laptop default is a model tuned for that prover with no download.

`prover/adapters/<backend>/` holds a peft adapter (adapter_config.json, adapter_model.safetensors, megabytes)
and llemma_prover.json (its prompt format, how it was trained). The merged model is written once to the model
cache under a name that includes the adapter's hash, so a new adapter never reuses a stale merge.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from model_store import MODEL_INFO, built_once, cache_root, default_model_dir

ADAPTER_ROOT = Path(__file__).parent / "adapters"


def shipped_adapter(backend: str) -> Path | None:
    folder = ADAPTER_ROOT / backend
    return folder if (folder / "adapter_model.safetensors").is_file() else None


def adapter_digest(adapter: Path) -> str:
    h = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        h.update((adapter / name).read_bytes())
    return h.hexdigest()[:12]


def merged_model_dir(base: Path, adapter: Path) -> Path:
    """base + adapter merged into plain weights (so transformers and vLLM load it like any folder), cached."""
    target = cache_root() / "models" / f"{base.name}-{adapter.name}-{adapter_digest(adapter)}"
    return built_once(target, lambda folder: (folder / MODEL_INFO).is_file(),
                      lambda folder: _merge(base, adapter, folder),
                      f"merging the {adapter.name} adapter into the default model once (about 6 s)")


def _merge(base: Path, adapter: Path, folder: Path) -> None:
    """Write base + adapter, merged, into `folder`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.to(torch.bfloat16).save_pretrained(folder)  # half the disk; generators cast to their own dtype
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    shutil.copy(adapter / MODEL_INFO, folder / MODEL_INFO)  # written last: its presence marks a complete folder


def default_model_for(backend: str) -> Path:
    """What `--model default` loads for a backend: the tuned merge where an adapter ships, else the base."""
    base = default_model_dir()
    adapter = shipped_adapter(backend)
    return merged_model_dir(base, adapter) if adapter else base

