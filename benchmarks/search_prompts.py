"""Prompts the model benchmarks share: real search states (miniF2F-rocq valid root states, as coqtop shows them)
rendered with a generator's own template."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def root_states(count: int) -> tuple:
    """(theorem, state text) of the first `count` miniF2F-rocq valid theorems' opening states that coqtop accepts
    (valid only: the benchmarks never look at test)."""
    from coq_env.backend import RocqBackend
    from coq_env.minif2f import load_split
    from prover.types import StatementError

    states = []
    with RocqBackend() as backend:
        for theorem in load_split("valid"):
            try:
                states.append((theorem, backend.render_state(backend.open(theorem))))
            except StatementError:  # a statement this Coq rejects has no state to prompt with
                continue
            if len(states) == count:
                break
    return tuple(states)


def root_state_prompts(generator, count: int) -> list[str]:
    """The first `count` valid root states as `generator` (a ModelGenerator) prompts for them."""
    return [generator.build_prompt(theorem, state) for theorem, state in root_states(count)]
