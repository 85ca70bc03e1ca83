"""Prompts the model benchmarks share: real search states (miniF2F-rocq valid root states, as coqtop shows them)
rendered with a generator's own template."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def root_states(count: int) -> tuple:
    """(theorem, state text) of the first `count` miniF2F-rocq valid theorems' opening states (valid only: the
    benchmarks never look at test)."""
    from coq_env.backend import RocqBackend
    from coq_env.minif2f import load_split

    theorems = load_split("valid")[:count]
    with RocqBackend() as backend:
        return tuple((t, backend.render_state(backend.open(t))) for t in theorems)


def root_state_prompts(generator, count: int) -> list[str]:
    """The first `count` valid root states as `generator` (a ModelGenerator) prompts for them."""
    return [generator.build_prompt(theorem, state) for theorem, state in root_states(count)]
