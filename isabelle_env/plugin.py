"""Registers the Isabelle backend and miniF2F-isabelle with the prover core (entry point `isabelle`).

Nothing here starts Isabelle or imports the backend until it is needed: listing backends, loading the
benchmark and the static checks work on a machine without Isabelle.
"""
from __future__ import annotations

from pathlib import Path

from isabelle_env.checker import IsabelleVerifier
from isabelle_env.minif2f import load_split
from isabelle_env.setup import setup_isabelle_command
from isabelle_env.sketch import SKETCH
from isabelle_env.user_files import open_user_files
from prover.backend import check_file as check_with
from prover.plugins import BackendPlugin
from prover.proofsteps import ExtractOptions
from prover.types import BackendUnavailable, Theorem, Verdict


def make_isabelle_backend(**kwargs):
    """IsabelleBackend(**kwargs), imported on first use."""
    try:
        from isabelle_env.backend import IsabelleBackend
    except ImportError as exc:
        raise BackendUnavailable(f"the Isabelle backend cannot be loaded ({exc}); "
                                 "set Isabelle up with `prover setup isabelle`") from None
    return IsabelleBackend(**kwargs)


def extract_proofsteps(source, out, options: ExtractOptions) -> dict:
    """Proofstep rows from theories replayed through the bridge (isabelle_env.extract), imported on first use."""
    from isabelle_env.extract import extract_proofsteps as extract

    return extract(source, out, options)


def check_file(path: Path, expected: Theorem | None) -> Verdict:
    """Static refusals always; a statically clean theory is accepted only by Isabelle, in a fresh session."""
    return check_with(IsabelleVerifier(), path, expected)


PLUGIN = BackendPlugin(
    name="isabelle",
    make_backend=make_isabelle_backend,
    benchmarks={"minif2f-isabelle": load_split},
    check_file=check_file,
    file_suffix=".thy",
    default_prompt="isabelle-proofstep",
    forbidden_tactics=("sorry", "oops"),
    executable="isabelle",
    sketch=SKETCH,
    setup_command=setup_isabelle_command,
    extract_proofsteps=extract_proofsteps,
    user_files=open_user_files,
)
