"""Registers the Rocq backend and its benchmark with the prover core (entry point `rocq`)."""
from __future__ import annotations

from pathlib import Path

from coq_env.backend import RocqBackend
from coq_env.curriculum import FAMILIES, draw_family, write_curriculum
from coq_env.editor import EDITOR
from coq_env.extract import extract_proofsteps, load_heldout_theorems
from coq_env.hints import HintGenerator
from coq_env.renaming import rename_step
from coq_env.synthetic import KINDS, write_synthetic_proofsteps
from coq_env.user_files import open_user_files
from coq_env.stdlib_holes import build_stdlib_holes
from coq_env.competition import load_competition
from coq_env.minif2f import load_samples, load_split
from coq_env.sketch import SKETCH
from coq_env.verify import RocqVerifier
from prover.backend import check_file as check_with
from prover.generators import goals_split_after
from prover.plugins import BackendPlugin
from prover.types import Theorem, Verdict


def check_file(path: Path, expected: Theorem | None) -> Verdict:
    return check_with(RocqVerifier(), path, expected)


PLUGIN = BackendPlugin(
    name="rocq",
    make_backend=RocqBackend,
    benchmarks={"minif2f-rocq": load_split, "competition-rocq": load_competition},
    check_file=check_file,
    file_suffix=".v",
    default_prompt="rocq-proofstep",
    first_goal=goals_split_after(r"^[ \t]*={4,}[ \t]*$"),  # coqtop's line of '=' ends a goal's hypotheses
    forbidden_tactics=("admit", "Admitted", "give_up"),
    executable="coqtop",
    sketch=SKETCH,
    editor=EDITOR,
    extract_proofsteps=extract_proofsteps,
    hint_generator=HintGenerator,
    rename_proofstep=rename_step,
    heldout_theorems=load_heldout_theorems,
    synthesize_proofsteps=write_synthetic_proofsteps,
    synthetic_kinds=KINDS,
    write_curriculum=write_curriculum,
    curriculum_families=tuple(FAMILIES),
    curriculum_theorems=draw_family,
    user_files=open_user_files,
    holes_benchmark=build_stdlib_holes,
    samples={"minif2f-rocq": load_samples},
)
