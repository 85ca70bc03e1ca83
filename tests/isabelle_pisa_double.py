#!/usr/bin/env python3
"""TEST DOUBLE for a PISA server (Portal-to-ISAbelle): not Isabelle. A gRPC server with PISA's service
`server.Server` and its tagged IsabelleCommand protocol, whose "Isabelle" is a scripted table of replies.

It keeps named top-level states as PISA does (name -> printed state and proof level; `<initialise>` makes
"default", the empty top level) and answers

  <apply to top level state> OLD <apply to top level state> TEXT <apply to top level state> NEW
      from Script.steps[(state text of OLD, TEXT)]: a (new state text, proof level) or an error reply;
      a `theory ... begin` header on a state at level 0 starts a theory (unless it imports Missing_*);
      anything else is "Step error: ..." as PISA reports Isabelle's exceptions;
      normalhammer / sledgehammer: Script.hammer[state text] is applied and answered "TACTIC <hammer> STATE"
  <get_proof_level>, <is finished>, <clone>, <delete>, <list states>, like PISA.

Faults: Script.slow[TEXT] seconds of sleep before answering TEXT (to pass a client's deadline), `wedge()`
makes every command sleep, `die_on` stops the whole server while it answers that text, `stop()` stops it.

Use in-process (`PisaDouble(script).start()`) or as a process:
    python tests/isabelle_pisa_double.py --port PORT
serves TOY_SCRIPT until killed.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
from concurrent import futures
from dataclasses import dataclass, field

try:
    import grpc
except ImportError:  # the scripted table below is also used without gRPC (tests/isabelle_isarepl_double.py)
    grpc = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from isabelle_env.pisa_wire import decode_text, encode_text  # noqa: E402

APPLY = "<apply to top level state>"


def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Script:
    steps: dict[tuple[str, str], tuple[str, int] | str] = field(default_factory=dict)
    hammer: dict[str, str] = field(default_factory=dict)  # state text -> the tactic Sledgehammer "finds"
    slow: dict[str, float] = field(default_factory=dict)  # command text -> seconds before answering
    die_on: str | None = None  # command text during which the server stops

    def lookup(self, state: str, text: str):
        return self.steps.get((norm(state), norm(text)))


# -- the toy theorem every test uses: 2 * n = n + n over nat ---------------------------------------------------
TOY_HEADER = "(*\n  Authors: test double\n*)\n\ntheory toy_double imports\n  Complex_Main\nbegin"
TOY_STATEMENT = 'theorem toy_double:\n  fixes n :: nat\n  shows "2 * n = n + n"'
S0 = "proof (prove)\ngoal (1 subgoal):\n 1. 2 * n = n + n"
S1 = (
    "proof (prove)\ngoal (2 subgoals):\n 1. 2 * 0 = 0 + 0\n"
    " 2. \\<And>n. 2 * n = n + n \\<Longrightarrow> 2 * Suc n = Suc n + Suc n"
)
S2 = "proof (prove)\ngoal (1 subgoal):\n 1. \\<And>n. 2 * n = n + n \\<Longrightarrow> 2 * Suc n = Suc n + Suc n"
NO_SUBGOALS = "proof (prove)\ngoal:\nNo subgoals!"
CLOSED_STATEMENT = 'theorem closed_already: "True" by simp'


def toy_script() -> Script:
    s = Script()
    s.steps[("", norm(TOY_STATEMENT))] = (S0, 1)
    s.steps[("", norm(CLOSED_STATEMENT))] = ("", 0)
    s.steps[(norm(S0), "apply (induct n)")] = (S1, 1)
    s.steps[(norm(S1), "apply simp")] = (S2, 1)
    s.steps[(norm(S1), "apply (simp)")] = (S2, 1)  # as Isa-REPL's hammer phrases it
    s.steps[(norm(S2), "by auto")] = ("", 0)
    s.steps[(norm(S2), "apply auto")] = (NO_SUBGOALS, 1)
    s.steps[(norm(NO_SUBGOALS), "done")] = ("", 0)
    s.steps[(norm(S2), "by (metis mult_2)")] = ("", 0)
    s.steps[(norm(S0), "apply pisa_limit")] = "Unknown error: Futures timed out after [10000 milliseconds]"
    s.steps[(norm(S0), "apply slow_method")] = (S1, 1)
    s.hammer[norm(S1)] = "apply simp"  # with several goals Sledgehammer proposes `apply`, not `by`
    s.hammer[norm(S2)] = "by (metis mult_2)"
    s.slow["apply slow_method"] = 5.0
    return s


class PisaDouble:
    """TEST DOUBLE: an in-process PISA-protocol server answering from a Script."""

    def __init__(self, script: Script, port: int = 0, host: str = "127.0.0.1"):
        self.script = script
        self.states: dict[str, tuple[str, int]] = {}
        self.log: list[str] = []  # every IsabelleCommand text, in order
        self.setup: dict[str, str] = {}  # what InitialiseIsabelle / IsabelleWorkingDirectory / IsabelleContext got
        self._lock = threading.Lock()
        self._released = threading.Event()  # set on stop: sleeping handlers return at once
        self._wedged = False
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        rpc = grpc.unary_unary_rpc_method_handler
        handlers = {
            "InitialiseIsabelle": rpc(self._initialise_isabelle, decode_text, encode_text),
            "IsabelleWorkingDirectory": rpc(self._working_directory, decode_text, encode_text),
            "IsabelleContext": rpc(self._context, decode_text, encode_text),
            "IsabelleCommand": rpc(self._command, decode_text, encode_text),
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("server.Server", handlers),))
        self.port = self._server.add_insecure_port(f"{host}:{port}")

    def start(self) -> "PisaDouble":
        self._server.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.stop(None).wait()

    def wedge(self) -> None:
        self._wedged = True

    # -- the service ------------------------------------------------------------------------------------
    def _initialise_isabelle(self, path: str, context) -> str:
        self.setup["isabelle"] = path
        return f"----------Path to Isabelle source----------\n{path}"

    def _working_directory(self, path: str, context) -> str:
        self.setup["working_dir"] = path
        return f"----------Path to Isabelle working directory----------\n{path}"

    def _context(self, path: str, context) -> str:
        if "missing" in path:
            context.abort(grpc.StatusCode.UNKNOWN, f"java.nio.file.NoSuchFileException: {path}")
        self.setup["theory_file"] = path
        with self._lock:
            self.states.clear()
        return f"----------Path to Isabelle theory file----------\n{path}"

    def _command(self, text: str, context) -> str:
        with self._lock:
            self.log.append(text)
        if self._wedged:
            self._released.wait(30)
        if self.script.die_on is not None and APPLY in text and norm(text.split(APPLY)[2]) == self.script.die_on:
            self._released.set()
            self._server.stop(None)  # in-flight calls, this one included, are cut off as by a crash
            context.abort(grpc.StatusCode.UNAVAILABLE, "test double: server stopped")
        with self._lock:
            return self._answer(text)

    def _answer(self, text: str) -> str:
        if text.startswith("<initialise>"):
            self.states["default"] = ("", 0)
            return "Toplevel state 'default' is ready"
        if text.startswith("<list states>"):
            return " | ".join(self.states)
        if text.startswith(APPLY):
            _, old, action, new = text.split(APPLY)
            return self._apply(old.strip(), action.strip(), new.strip())
        for tag in ("<get_proof_level>", "<is finished>", "<delete>"):
            if text.startswith(tag):
                name = text[len(tag):].strip()
                if name not in self.states:
                    return f"Didn't find top level state of given name: {name}"
                if tag == "<delete>":
                    del self.states[name]
                    return f"Successfully deleted state named: {name}"
                level = self.states[name][1]
                return str(level) if tag == "<get_proof_level>" else ("true" if level == 0 else "false")
        if text.startswith("<clone>"):
            _, old, new = text.split("<clone>")
            self.states[new.strip()] = self.states[old.strip()]
            return f"Successfully copied top level state named: {new.strip()}"
        return "Unrecognised operation."

    def _apply(self, old: str, action: str, new: str) -> str:
        if old not in self.states:
            return f"Didn't find top level state of given name: {old}"
        state, level = self.states[old]
        seconds = self.script.slow.get(norm(action))
        if seconds:
            self._lock.release()  # other calls (a client's liveness probe) are answered meanwhile
            try:
                self._released.wait(seconds)
            finally:
                self._lock.acquire()
        if action.startswith(("normalhammer", "sledgehammer")):
            found = self.script.hammer.get(norm(state))
            if found is None:
                return "Step error: Outer syntax error (line 1): command expected,\nbut identifier error (line 1) was found"
            reply = self._apply(old, found, new)
            return reply if reply.startswith("Step error") else f"{found} <hammer> {reply}"
        outcome = self.script.lookup(state, action)
        if outcome is None and level == 0 and state == "" and norm(action).startswith("theory "):
            if "Missing_" in action:
                return 'Step error: Bad theory import "Missing_Theory"'
            outcome = ("", 0)
        if outcome is None:
            if level == 0:
                return "Step error: Outer syntax error (line 1): command expected"
            return f"Step error: Failed to apply initial proof method (line 1):\n{state}"
        if isinstance(outcome, str):
            return outcome
        self.states[new] = outcome
        return outcome[0]


def main() -> None:
    parser = argparse.ArgumentParser(description="TEST DOUBLE of a PISA server, answering the toy script")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    double = PisaDouble(toy_script(), port=args.port).start()
    print(f"test double: PISA protocol on 127.0.0.1:{double.port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
