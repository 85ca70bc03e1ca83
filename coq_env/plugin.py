"""Registers the Rocq backend and its benchmark with the prover core (entry point `rocq`)."""
from __future__ import annotations

from pathlib import Path

from coq_env.backend import AUTOMATION_IMPORT, RocqBackend
from coq_env.extract import extract_proofsteps, load_heldout_theorems
from coq_env.hints import HintGenerator
from coq_env.renaming import rename_step
from coq_env.synthetic import KINDS, write_synthetic_proofsteps
from coq_env.minif2f import load_split
from coq_env.verify import check_proof_text
from prover.plugins import BackendPlugin
from prover.types import Theorem, Verdict


def check_file(path: Path, expected: Theorem | None) -> Verdict:
    return check_proof_text(Path(path).read_text(), expected=expected, extra_header=(AUTOMATION_IMPORT,))


PLUGIN = BackendPlugin(
    name="rocq",
    make_backend=RocqBackend,
    benchmarks={"minif2f-rocq": load_split},
    check_file=check_file,
    file_suffix=".v",
    extract_proofsteps=extract_proofsteps,
    hint_generator=HintGenerator,
    rename_proofstep=rename_step,
    heldout_theorems=load_heldout_theorems,
    synthesize_proofsteps=write_synthetic_proofsteps,
    synthetic_kinds=KINDS,
)
