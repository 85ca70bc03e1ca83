"""Registers the Isabelle backend and miniF2F-isabelle with the prover core (entry point `isabelle`).

Nothing here starts Isabelle or imports the backend until it is needed: listing backends, loading the
benchmark and the static checks work on a machine without Isabelle.
"""
from __future__ import annotations

import os
from pathlib import Path

from isabelle_env.minif2f import load_split
from isabelle_env.verify import check_theory_text, server_checker, static_problem
from prover.plugins import BackendPlugin
from prover.types import BackendUnavailable, Theorem, Verdict

NO_LIVE_CHECK = "statically clean, but cannot check live"
CHECK_TIMEOUT = 600.0  # seconds for one theory: a heap load, then every proof in it


def make_isabelle_backend(**kwargs):
    """IsabelleBackend(**kwargs), imported on first use."""
    try:
        from isabelle_env.backend import IsabelleBackend
    except ImportError as exc:
        raise BackendUnavailable(f"the Isabelle backend cannot be loaded ({exc}); "
                                 "set Isabelle up with `prover setup isabelle`") from None
    return IsabelleBackend(**kwargs)


def extract_proofsteps(source, out, **options) -> dict:
    """Proofstep rows from theories replayed through the bridge (isabelle_env.extract), imported on first use."""
    from isabelle_env.extract import extract_proofsteps as extract

    return extract(source, out, **options)


def live_checker(timeout: float = CHECK_TIMEOUT):
    """A checker through the Isabelle server: the one `prover setup isabelle` recorded when it answers,
    else the one `isabelle server -n NAME` finds or starts. BackendUnavailable when there is no Isabelle."""
    from isabelle_env.server_client import IsabelleServerClient, IsabelleServerError, ServerAddress
    from isabelle_env.setup import (CHECK_SESSION, DEFAULT_SERVER_NAME, ISABELLE_MISSING, SetupError, find_isabelle,
                                    read_record, start_or_find_server)

    record = read_record()
    session = record.get("check_session", CHECK_SESSION)
    if isinstance(record.get("server"), dict):
        try:
            address = ServerAddress.from_record(record["server"])
            IsabelleServerClient.connect(address, timeout=10.0).close()
            return server_checker(address, session=session, timeout=timeout)
        except (KeyError, ValueError, IsabelleServerError):
            pass  # stale record (the server was shut down): find or start one below
    isabelle = find_isabelle()
    if isabelle is None:
        raise BackendUnavailable(f"{NO_LIVE_CHECK}: {ISABELLE_MISSING}")
    name = (record.get("server") or {}).get("name") or DEFAULT_SERVER_NAME
    try:
        address, _ = start_or_find_server(isabelle, name, env=dict(os.environ))
    except SetupError as exc:
        raise BackendUnavailable(f"{NO_LIVE_CHECK}: {exc}") from None
    return server_checker(address, session=session, timeout=timeout)


def check_file(path: Path, expected: Theorem | None) -> Verdict:
    """Static refusals always; a statically clean theory is accepted only by Isabelle, in a fresh session."""
    from isabelle_env.server_client import IsabelleServerError

    text = Path(path).read_text(encoding="utf-8")
    problem = static_problem(text, expected)
    if problem:
        return Verdict(False, problem)
    checker = live_checker()
    try:
        return check_theory_text(text, expected, checker=checker)
    except IsabelleServerError as exc:
        raise BackendUnavailable(f"{NO_LIVE_CHECK}: {exc}") from None


PLUGIN = BackendPlugin(
    name="isabelle",
    make_backend=make_isabelle_backend,
    benchmarks={"minif2f-isabelle": load_split},
    check_file=check_file,
    file_suffix=".thy",
    extract_proofsteps=extract_proofsteps,
)
