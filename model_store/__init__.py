"""What the prover and the training share, with no import of either: model folders and the proofstep row format.

`model_store.folders`: the model cache, building a folder in it once (`built_once`), the default model (SmolLM2-135M,
converted from its PyPI GGUF on first use), resolving a `--model` folder or hub id, and the file in which a model
folder names its prompt format.
`model_store.proofsteps`: (proof state, next tactic) rows, as `prover extract` writes them and training reads them.
"""
from model_store.folders import (
    CACHE_ENV_VAR,
    DEFAULT_MODEL_NAME,
    MODEL_INFO,
    ModelLoadError,
    built_once,
    conversion_dir,
    cache_root,
    default_model_dir,
    model_prompt,
    quiet_loading,
    resolve_model,
    stage,
)

__all__ = [
    "CACHE_ENV_VAR",
    "DEFAULT_MODEL_NAME",
    "MODEL_INFO",
    "ModelLoadError",
    "built_once",
    "conversion_dir",
    "cache_root",
    "default_model_dir",
    "model_prompt",
    "quiet_loading",
    "resolve_model",
    "stage",
]
