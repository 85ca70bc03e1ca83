"""Registers the Lean 4 backends with the prover core: `lean` (the REPL) and `leandojo` (LeanDojo).

Nothing here starts Lean until it is needed: listing backends, loading benchmarks and the static checks must
work on a machine without Lean.
"""
from __future__ import annotations

from pathlib import Path

from lean_env.minif2f import load_deepseek_split, load_llemma_split, load_split
from lean_env.setup import setup_lean_command
from lean_env.sketch import SKETCH
from lean_env.verify import NO_LIVE_CHECK, LeanVerifier, static_problem
from prover.backend import check_file as check_with
from prover.generators import goals_split_after
from prover.plugins import BackendPlugin
from prover.syntax import EditorSyntax
from prover.proofsteps import ExtractOptions
from prover.types import BackendUnavailable, Theorem, Verdict


def make_lean_backend(**kwargs):
    """LeanBackend(**kwargs), imported on first use."""
    try:
        from lean_env.backend import LeanBackend
    except ImportError as exc:
        raise BackendUnavailable(f"the Lean REPL backend cannot be loaded ({exc})") from None
    return LeanBackend(**kwargs)


def make_leandojo_backend(**kwargs):
    from lean_env.leandojo import LeanDojoBackend

    return LeanDojoBackend(**kwargs)


def extract_proofsteps(source, out, options: ExtractOptions) -> dict:
    """Proofstep rows from LeanDojo-traced proofs (lean_env.extract), imported on first use."""
    from lean_env.extract import extract_proofsteps as extract

    return extract(source, out, options)


def open_user_files(paths, load_paths):
    """`prover prove PATHS`: the sorry holes of .lean files (lean_env.user_files), imported on first use."""
    from lean_env.user_files import open_user_files as open_files

    return open_files(paths, load_paths)


def check_file(path: Path, expected: Theorem | None) -> Verdict:
    """Static refusals always; a statically clean file is accepted only by Lean itself, in a fresh REPL."""
    return check_with(LeanVerifier(), path, expected)


def check_file_leandojo(path: Path, expected: Theorem | None) -> Verdict:
    """LeanDojo's theorems live in their repositories: a file is checked against its pointer by LeanDojo."""
    text = Path(path).read_text(encoding="utf-8")
    problem = static_problem(text, expected)
    if problem:
        return Verdict(False, problem)
    if expected is None:
        raise BackendUnavailable(f"{NO_LIVE_CHECK}: LeanDojo checks a benchmark theorem (give --benchmark and --theorem)")
    from lean_env.leandojo import LeanDojoBackend

    tactics = _tactics_of(text, expected)
    if tactics is None:
        return Verdict(False, "LeanDojo checks tactic proofs: the statement, `:= by`, then the tactics")
    with LeanDojoBackend() as backend:  # BackendUnavailable without lean-dojo
        return backend.verify(expected, tactics)


def _tactics_of(text: str, expected: Theorem) -> tuple[str, ...] | None:
    """The tactics of a `statement := by` file, one per top-level line, or None if it is not one."""
    from lean_env.verify import statement_without_proof

    head = statement_without_proof(expected.statement).rstrip()
    at = text.find(head)
    if at < 0:
        return None
    rest = text[at + len(head):].lstrip()
    if not rest.startswith(":="):
        return None
    rest = rest[2:].lstrip()
    if not rest.startswith("by"):
        return None
    lines = [line for line in rest[2:].splitlines() if line.strip()]
    if not lines:
        return None
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    tactics: list[str] = []
    for line in lines:
        if len(line) - len(line.lstrip()) == indent or not tactics:
            tactics.append(line.strip())
        else:
            tactics[-1] += "\n" + line[indent:]
    return tuple(tactics)


FORBIDDEN_TACTICS = ("sorry", "admit")  # Mathlib's `admit` is `sorry` by another name
FIRST_GOAL = goals_split_after(r"^[ \t]*⊢")  # a goal's conclusion line starts with ⊢

PLUGIN = BackendPlugin(
    name="lean",
    make_backend=make_lean_backend,
    benchmarks={"minif2f-lean4": load_split, "minif2f-lean4-deepseek": load_deepseek_split},
    check_file=check_file,
    file_suffix=".lean",
    default_prompt="llemma-fewshot-lean",
    forbidden_tactics=FORBIDDEN_TACTICS,
    first_goal=FIRST_GOAL,
    executable="lean",
    sketch=SKETCH,
    editor=EditorSyntax(protocols=("leancopilot",)),  # suggestions for Lean editors are not checked here
    setup_command=setup_lean_command,
    extract_proofsteps=extract_proofsteps,
    user_files=open_user_files,
)

LEANDOJO_PLUGIN = BackendPlugin(
    name="leandojo",
    make_backend=make_leandojo_backend,
    benchmarks={"minif2f-lean4-llemma": load_llemma_split},
    check_file=check_file_leandojo,
    file_suffix=".lean",
    default_prompt="llemma-fewshot-lean",
    forbidden_tactics=FORBIDDEN_TACTICS,
    first_goal=FIRST_GOAL,
    executable="lean",
    extract_proofsteps=extract_proofsteps,
)
