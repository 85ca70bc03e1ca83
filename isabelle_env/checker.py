"""The Isabelle backend's Verifier: a proof rendered as a theory, checked by isabelle_env.verify with a fresh
session of the Isabelle server (the one `prover setup isabelle` recorded, else one it finds or starts)."""
from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path
from typing import Sequence

from isabelle_env.outer_syntax import code_tokens, theory_shape
from isabelle_env.verify import Checker, check_theory_text, static_problem
from prover.types import BackendUnavailable, Theorem, Verdict

NO_LIVE_CHECK = "statically clean, but cannot check live"
CHECK_TIMEOUT = 600.0  # seconds for one theory: a heap load, then every proof in it
DEFAULT_CHECK_SESSION = "HOL-Number_Theory"  # its heap holds Complex_Main, Computational_Algebra, Number_Theory
DEFAULT_INCLUDE_SESSIONS = ("HOL-Library", "HOL-Computational_Algebra", "HOL-Number_Theory", "HOL-Analysis")


def server_checker(address, *, session: str = DEFAULT_CHECK_SESSION,
                   include_sessions: Sequence[str] = DEFAULT_INCLUDE_SESSIONS, dirs: Sequence[str] = (),
                   timeout: float = 600.0, session_timeout: float = 1800.0, connect=None) -> Checker:
    """A checker that runs each theory in a fresh session of the Isabelle server at `address`.

    Fresh per check: nothing one theory declares can reach the next. The theory goes into a new temporary
    folder as NAME.thy (the server reads theories from files, and a theory's file must carry its name).
    A theory still running after `timeout` seconds is reported as an error; a server that cannot be
    reached raises IsabelleServerError (the caller cannot check, which is not a rejection).
    """
    from isabelle_env.server_client import IsabelleServerClient, IsabelleServerError, ServerTimeout

    open_client = connect or (lambda: IsabelleServerClient.connect(address, timeout=60.0))

    def check(text: str):
        shape = theory_shape(code_tokens(text))
        if isinstance(shape, str):
            return False, [{"kind": "error", "message": shape}]
        with tempfile.TemporaryDirectory(prefix="isabelle-check-") as folder:
            (Path(folder) / f"{shape.name}.thy").write_text(text, encoding="utf-8")
            with open_client() as client:
                started = client.session_start(session, include_sessions=list(include_sessions), dirs=list(dirs),
                                               timeout=session_timeout)
                try:
                    result = client.use_theories(started.session_id, [shape.name], folder,
                                                 watchdog_timeout=timeout, timeout=timeout + 30)
                except ServerTimeout:
                    return False, [{"kind": "error", "message": f"Isabelle did not finish the theory within {timeout:g}s"}]
                finally:
                    try:
                        client.session_stop(started.session_id)
                    except IsabelleServerError:
                        pass  # the session dies with the server at worst; the verdict does not depend on it
        node = result.node(shape.name)
        if node is None:
            return False, [{"kind": "error", "message": f"Isabelle reported nothing for theory {shape.name}"}, *result.errors]
        messages = list(node.messages)
        # errors from imported theories show up only in `errors`; keep every one
        known = {(m.kind, m.text, m.line) for m in messages}
        messages += [e for e in result.errors if (e.kind, e.text, e.line) not in known]
        status = node.status
        finished = (status.get("consolidated") is True and not status.get("unprocessed") and not status.get("running")
                    and not status.get("canceled"))
        if not finished:  # a proof still running or never run is not a proof
            messages.append({"kind": "error", "message": f"theory {shape.name} was not fully processed: {status}"})
        return result.ok and node.ok and finished, messages

    return check


def render_proof(theorem: Theorem, tactics: Sequence[str]) -> str:
    """The theory the backend's search writes and the verifier accepts: the benchmark's header, the statement,
    the proof's commands indented, and `end`."""
    body = "\n".join(textwrap.indent(t, "  ") for t in tactics)
    return f"{theorem.header.rstrip()}\n\n{theorem.statement.rstrip()}\n{body}\n\nend\n"


def live_checker(timeout: float = CHECK_TIMEOUT, *, session: str | None = None, dirs: Sequence[str] = ()) -> Checker:
    """A checker through the Isabelle server: the one `prover setup isabelle` recorded when it answers,
    else the one `isabelle server -n NAME` finds or starts. Each theory runs in a fresh `session` (default: the
    check session setup recorded), whose ROOT Isabelle also looks for in `dirs`. BackendUnavailable when there is
    no Isabelle."""
    from isabelle_env.server_client import IsabelleServerClient, IsabelleServerError, ServerAddress
    from isabelle_env.setup import (CHECK_SESSION, DEFAULT_SERVER_NAME, ISABELLE_MISSING, SetupError, find_isabelle,
                                    read_record, start_or_find_server)

    record = read_record()
    session = session or record.get("check_session", CHECK_SESSION)
    if isinstance(record.get("server"), dict):
        try:
            address = ServerAddress.from_record(record["server"])
            IsabelleServerClient.connect(address, timeout=10.0).close()
            return server_checker(address, session=session, dirs=dirs, timeout=timeout)
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
    return server_checker(address, session=session, dirs=dirs, timeout=timeout)


class IsabelleVerifier:
    """Static refusals always; a statically clean theory is accepted only by Isabelle, in a fresh session.

    `checker` (theory text -> (ok, messages)): default, live_checker's, found on the first check that needs it.
    The limit is the checker's own (`timeout` when the verifier makes it): a per-call `timeout` is not applied,
    since a session's heap load and the theory share one server request."""

    def __init__(self, checker: Checker | None = None, timeout: float = CHECK_TIMEOUT):
        self._checker = checker
        self.timeout = timeout

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        """The search's check: a proof it cannot check (no Isabelle) is refused, saying why."""
        try:
            checker = self._live()
        except BackendUnavailable as exc:
            return Verdict(False, str(exc))
        return check_theory_text(render_proof(theorem, tactics), expected=theorem, checker=checker)

    def check_text(self, text: str, expected: Theorem | None = None, timeout: float | None = None) -> Verdict:
        """`prover check`: BackendUnavailable when a statically clean theory cannot be checked live."""
        from isabelle_env.server_client import IsabelleServerError

        problem = static_problem(text, expected)
        if problem:
            return Verdict(False, problem)
        checker = self._live()
        try:
            return check_theory_text(text, expected, checker=checker)
        except IsabelleServerError as exc:
            raise BackendUnavailable(f"{NO_LIVE_CHECK}: {exc}") from None

    def _live(self) -> Checker:
        if self._checker is None:
            self._checker = live_checker(self.timeout)
        return self._checker
