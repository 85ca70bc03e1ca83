"""The recorded Lean REPL transcripts and how the replay tests reach them through the test double.

tests/lean_repl_double.py (a TEST DOUBLE) answers each request with the reply the real REPL gave to it;
these helpers name the transcripts, start a `LeanRepl` or `LeanBackend` on the double, route a recorded
request through the driver's typed methods, and write synthesised transcripts in the recorded format.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from lean_repl_double import load_transcript  # the double's own transcript reader

from lean_env.backend import LeanBackend
from lean_env.repl import LeanRepl
from prover.types import Theorem

DOUBLE = str(Path(__file__).with_name("lean_repl_double.py"))
# The REPL's own test transcripts, copied with their PROVENANCE and LICENSE from shared/data.
TRANSCRIPTS = Path(__file__).with_name("data") / "lean-repl-transcripts"

TOP_LEVEL = [
    "readme", "proof_step", "proof_branching", "invalid_tactic", "unknown_tactic", "unknown_proof_state",
    "unknown_environment", "tactic_mode_sorry", "have_by_sorry", "sorry_hypotheses", "incomplete",
    "app_type_mismatch", "pickle_environment", "pickle_proof_state_1", "self_proof_check", "root_goals", "all_tactics",
]
MATHLIB = ["Mathlib/exact", "Mathlib/induction", "Mathlib/20240209"]


def stem(name: str) -> str:
    return str(TRANSCRIPTS / name)


def double(name: str, *faults: str) -> list[str]:
    return [sys.executable, DOUBLE, stem(name), *faults]


def repl_for(name: str, *faults: str) -> LeanRepl:
    return LeanRepl(command=double(name, *faults), timeout=20)


def backend_for(name: str, *faults: str, **kwargs) -> LeanBackend:
    return LeanBackend(repl_command=double(name, *faults), **kwargs)


def theorem(statement: str, header: str = "") -> Theorem:
    return Theorem(name="t", statement=statement, header=header, backend="lean")


def send(repl: LeanRepl, request: dict):
    """Route a recorded request through the driver's typed method for its kind."""
    r = dict(request)
    if "cmd" in r:
        code, env = r.pop("cmd"), r.pop("env", None)
        return repl.command(code, env=env, **r)
    if "tactic" in r:
        return repl.tactic(r["tactic"], r["proofState"])
    if "pickleTo" in r and "env" in r:
        return repl.pickle_env(r["env"], r["pickleTo"])
    if "unpickleEnvFrom" in r:
        return repl.unpickle_env(r["unpickleEnvFrom"])
    if "pickleTo" in r and "proofState" in r:
        return repl.pickle_proof_state(r["proofState"], r["pickleTo"])
    if "unpickleProofStateFrom" in r:
        return repl.unpickle_proof_state(r["unpickleProofStateFrom"], env=r.get("env"))
    raise AssertionError(f"unknown request kind {request}")


def write_transcript(folder: Path, name: str, pairs: list[tuple[dict, dict | str]]) -> str:
    """A transcript in the recorded format; a reply given as str is written verbatim."""
    requests = "\n\n".join(json.dumps(req, ensure_ascii=False) for req, _ in pairs)
    replies = "".join((rep if isinstance(rep, str) else json.dumps(rep, ensure_ascii=False, indent=1)) + "\n\n" for _, rep in pairs)
    (folder / f"{name}.in").write_text(requests, encoding="utf-8")
    (folder / f"{name}.expected.out").write_text(replies, encoding="utf-8")
    return str(folder / name)


def recorded(name: str) -> list[tuple[dict, dict]]:
    return [(req, json.loads(text)) for req, text in load_transcript(stem(name))]
