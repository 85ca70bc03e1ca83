"""TEST DOUBLE of the `IsaREPL` client package (PyPI IsaREPL): not Isa-REPL and no server. A module object
with the package's names (Client, REPLFail) whose Client answers from the PISA double's scripted table, so
the Isa-REPL driver's mapping onto the client API can be checked without Isabelle.

Install it with monkeypatch.setitem(sys.modules, "IsaREPL", make_isarepl_double(...)). Every Client call is
logged in `module.calls` as (client number, method, args). Its state model: one current state per client
(text, proof level, in a proof), `record_state`/`rollback` by name, `clean_history` forgets all names.

Faults: eval of "apply hang" raises socket.timeout (no answer by the socket's deadline), "apply slow" fails
with the REPL's timeout message, `refuse=True` makes connecting fail; `legacy=True` answers eval in the
pre-0.13 form: (list of raw output lists, error message or None).
"""
from __future__ import annotations

import socket
import types

from isabelle_pisa_double import S1, S2, Script, norm, toy_script

HAMMER_METHODS = {norm(S1): "simp", norm(S2): "metis mult_2"}  # Isa-REPL returns bare methods


class REPLFail(Exception):
    pass


class _Flags:
    def __init__(self, is_proof: bool, is_theory: bool):
        self.is_toplevel = not (is_proof or is_theory)
        self.is_theory = is_theory
        self.is_proof = is_proof
        self.has_goal = is_proof


class _Output:
    """Shaped like IsaREPL.CommandOutput."""

    def __init__(self, command: str, state: str, level: int, is_proof: bool, errors: list[str]):
        self.command, self.state, self.level, self.errors = command, state, level, errors
        self.flags = _Flags(is_proof, is_theory=not is_proof)
        self.output, self.latex, self.plugin_output, self.range = [], None, None, None

    def as_list(self) -> list:
        flags = [self.flags.is_toplevel, self.flags.is_theory, self.flags.is_proof, self.flags.has_goal]
        return [self.command, [], None, flags, self.level, self.state, None, self.errors, (None, None)]


class _Socket:
    def __init__(self, log):
        self._log = log

    def settimeout(self, seconds):
        self._log.append(seconds)


def make_isarepl_double(script: Script | None = None, *, refuse: bool = False, legacy: bool = False):
    script = script or toy_script()
    module = types.ModuleType("IsaREPL")
    module.REPLFail = REPLFail
    module.calls = []
    module.clients = []
    module.socket_timeouts = []

    class Client:
        def __init__(self, addr, thy_qualifier, timeout=3600):
            if refuse:
                raise ConnectionRefusedError(111, "Connection refused")
            self.number = len(module.clients)
            module.clients.append(self)
            self.closed = False
            self.sock = _Socket(module.socket_timeouts)
            self._current = ("", 0, False)  # outside any theory
            self._recorded: dict[str, tuple[str, int, bool]] = {}
            self._log("Client", addr, thy_qualifier)

        def _log(self, method, *args, **kwargs):
            module.calls.append((self.number, method, args, kwargs))

        def record_state(self, name):
            self._log("record_state", name)
            self._recorded[name] = self._current

        def rollback(self, name):
            self._log("rollback", name)
            if name not in self._recorded:
                raise REPLFail(f"no such state {name}")
            self._current = self._recorded[name]
            return _Output("", self._current[0], self._current[1], self._current[2], [])

        def clean_history(self):
            self._log("clean_history")
            self._recorded = {}

        def hammer(self, timeout):
            self._log("hammer", timeout)
            method = HAMMER_METHODS.get(norm(self._current[0]))
            if method is None:
                raise REPLFail("Sledgehammer: no proof found")
            return method

        def eval(self, source, timeout=None, cmd_timeout=None, import_dir=None, base_dir=None, configs=None):
            self._log("eval", source, timeout=timeout, cmd_timeout=cmd_timeout, import_dir=import_dir)
            text = norm(source)
            if text == "apply hang":
                raise socket.timeout("timed out")
            if text == "apply slow":
                raise REPLFail(f"Timeout after {cmd_timeout} ms")
            state, level, in_proof = self._current
            outcome = script.lookup(state, source)
            if outcome is None and text.startswith(("theory ", "declare [[")) and not in_proof:
                outcome = ("", 0)
            if outcome is None or isinstance(outcome, str):
                out = _Output(text.split()[0], state, level, in_proof, [outcome or "Failed to apply proof method"])
            else:
                self._current = (outcome[0], outcome[1], outcome[1] > 0)
                out = _Output(text.split()[0], outcome[0], outcome[1], outcome[1] > 0, [])
            if legacy:
                return [out.as_list()], None
            return [out]

        def close(self):
            self._log("close")
            self.closed = True

        def kill(self):  # kills the whole server: a driver must never call it
            raise AssertionError("the driver killed the Isa-REPL server")

    module.Client = Client
    return module
