"""Where llemma-prover keeps what it makes once (converted models, Lean projects, Isabelle setup records)."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "LLEMMA_PROVER_CACHE"


def cache_root() -> Path:
    """$LLEMMA_PROVER_CACHE, else the user's cache dir (~/.cache/llemma-prover on Linux)."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llemma-prover"))
