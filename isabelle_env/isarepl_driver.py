"""IsabelleBridge over Isa-REPL (PyPI `IsaREPL`, github.com/xqyww123/Isa-REPL; Isabelle2024/2025).

An Isa-REPL client holds one current state per connection: `eval(source)` runs complete commands from it,
`record_state(name)` keeps it under a name and `rollback(name)` returns to one, `hammer(seconds)` runs
Sledgehammer on it without changing it and returns a method for `apply (...)`. Named states are therefore
emulated by rolling back before each command unless the connection already sits on the wanted state.

The REPL takes time limits in milliseconds per command; a call that still does not answer by our own deadline
leaves the message stream unusable, so the connection is replaced (its server-side client is killed through
Isa-REPL's own `close`), the recorded states are lost and `generation` increases. The server process is the
user's: it is never stopped from here.
"""
from __future__ import annotations

import importlib
import re
import socket
from dataclasses import dataclass
from typing import Any, Sequence

from isabelle_env.bridge import BridgeError, ServerDied, StepResult, resolve_header, subgoal_count
from prover.types import BackendUnavailable

DEFAULT_ADDRESS = "127.0.0.1:6666"
TOPLEVEL = "__toplevel"  # recorded right after connecting: where every new theory starts
SETUP_HINT = (
    "start an Isa-REPL server (in Isa-REPL: ./repl_server.sh 127.0.0.1:6666 HOL /tmp/repl_outputs) "
    "and set LLEMMA_PROVER_ISAREPL_ADDRESS=127.0.0.1:6666"
)
_TIMEOUT_TEXT = re.compile(r"time ?out|timed out", re.I)


def import_isarepl():
    try:
        return importlib.import_module("IsaREPL")
    except ImportError as exc:
        raise BackendUnavailable("the Isa-REPL driver needs its client: pip install IsaREPL") from exc


@dataclass(frozen=True)
class _Recorded:
    state: str
    proof_level: int


@dataclass(frozen=True)
class _Command:
    """The fields of one command's output we use, from either form the client has returned."""

    state: str
    proof_level: int
    errors: tuple[str, ...]


def _command_view(output: Any) -> _Command:
    if hasattr(output, "flags"):  # IsaREPL >= 0.13: CommandOutput objects
        is_proof = bool(output.flags.is_proof)
        level, state, errors = output.level, output.state, output.errors
    else:  # earlier clients: the raw list [command, output, latex, flags, level, state, plugin, errors, ...]
        is_proof = bool(output[3][2])
        level, state, errors = output[4], output[5], output[7]
    # Outside a proof the level is 0 whatever the REPL counts; inside, at least 1.
    level = max(1, int(level or 0)) if is_proof else 0
    return _Command(state or "", level, tuple(str(e) for e in (errors or ())))


class _Deadline(Exception):
    pass


class IsaReplBridge:
    """Implements IsabelleBridge over one Isa-REPL connection."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        thy_qualifier: str = "HOL",
        grace: float = 5.0,
        call_timeout: float = 120.0,
        sledgehammer_params: str | None = None,
    ):
        """`sledgehammer_params` is Sledgehammer's own parameter syntax, e.g. 'provers = "cvc5 vampire"'."""
        self._repl = import_isarepl()
        self.address = address
        self._qualifier = thy_qualifier
        self._grace = grace
        self._call_timeout = call_timeout  # for calls without a limit of their own (rollback, record)
        self._hammer_params = sledgehammer_params
        self.generation = 0
        self.reconnects = 0
        self._client = None
        self._states: dict[str, _Recorded] = {}
        self._current: str | None = None  # the recorded state the connection sits on; None if unknown
        self._connect()

    # -- IsabelleBridge -----------------------------------------------------------------------------------
    def initialise(
        self,
        name: str,
        *,
        header: str | None = None,
        theory_file: str | None = None,
        imports: Sequence[str] = (),
        working_dir: str | None = None,
        timeout: float = 600.0,
    ) -> StepResult:
        header_text, file_dir = resolve_header(header, theory_file, imports)
        self._goto(TOPLEVEL)
        # A new theory: drop what the last one recorded (Isa-REPL forgets states only all at once).
        self._call(lambda c: c.clean_history(), self._call_timeout)
        self._call(lambda c: c.record_state(TOPLEVEL), self._call_timeout)
        self._states = {TOPLEVEL: _Recorded("", 0)}
        self._current = TOPLEVEL
        directory = working_dir or file_dir
        result = self._eval(header_text, timeout, import_dir=directory)
        if result.ok and self._hammer_params:
            escaped = self._hammer_params.replace("\\", "\\\\").replace('"', '\\"')
            params = self._eval(f'declare [[REPL_sledgehammer_params = "{escaped}"]]', timeout)
            if not params.ok:
                raise BackendUnavailable(f"Isa-REPL refused the Sledgehammer parameters: {params.error}")
        if result.ok:
            self._record(name, result)
        return result

    def step(self, state_name: str, command: str, new_name: str, timeout: float) -> StepResult:
        self._goto(state_name)
        result = self._eval(command, timeout)
        if result.ok:
            self._record(new_name, result)
        return result

    def clone(self, src: str, dst: str) -> None:
        self._goto(src)
        self._call(lambda c: c.record_state(dst), self._call_timeout)
        self._states[dst] = self._states[src]

    def delete(self, name: str) -> None:
        self._states.pop(name, None)  # the server keeps the record until the next theory's clean_history

    def list(self) -> list[str]:
        return sorted(n for n in self._states if n != TOPLEVEL)

    def proof_level(self, name: str) -> int:
        if name not in self._states:
            raise BridgeError(f"no Isa-REPL state named {name!r}")
        return self._states[name].proof_level

    def sledgehammer(self, state_name: str, timeout: float) -> str | None:
        self._goto(state_name)
        seconds = max(1, round(timeout))
        try:
            method = self._call(lambda c: c.hammer(seconds), timeout + self._grace)
        except self._repl.REPLFail:
            return None  # Sledgehammer found nothing (the REPL's state is unchanged either way)
        except _Deadline:
            return None
        if not method:
            return None
        # The REPL returns a method for `apply (...)`; like Sledgehammer's own text, `by` only where it
        # proves the last goal.
        goals = subgoal_count(self._states[state_name].state)
        return f"{'apply' if goals and goals > 1 else 'by'} ({method})"

    def restart(self) -> None:
        self._drop()
        self._connect()

    def close(self) -> None:
        self._drop()

    # -- internals ----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            self._client = self._repl.Client(self.address, self._qualifier)
        except OSError as exc:
            raise ServerDied(f"no Isa-REPL server answers at {self.address} ({exc}): {SETUP_HINT}") from exc
        except self._repl.REPLFail as exc:  # e.g. client and server versions differ
            raise BackendUnavailable(f"Isa-REPL at {self.address} refused the connection: {exc}") from exc
        self._states = {}
        self._current = None
        try:
            self._call(lambda c: c.record_state(TOPLEVEL), self._call_timeout)
        except self._repl.REPLFail as exc:
            raise BackendUnavailable(f"Isa-REPL at {self.address} cannot record states: {exc}") from exc
        self._states[TOPLEVEL] = _Recorded("", 0)
        self._current = TOPLEVEL

    def _drop(self) -> None:
        """Forget the connection and every state it held (generation goes up)."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()  # also asks the server to kill this client's evaluation
            except Exception:  # a broken connection may fail to close; it is dropped either way
                pass
            self.generation += 1
            self.reconnects += 1
        self._states, self._current = {}, None

    def _call(self, fn, deadline: float):
        """One request on the connection, answered within `deadline` seconds or the connection is replaced."""
        if self._client is None:
            raise ServerDied(f"the Isa-REPL connection to {self.address} was lost")
        sock = getattr(self._client, "sock", None)
        if sock is not None:
            sock.settimeout(deadline)
        try:
            return fn(self._client)
        except (socket.timeout, TimeoutError) as exc:
            self._drop()
            self._connect()  # a half-read reply leaves the stream unusable
            raise _Deadline(str(exc)) from exc
        except (OSError, EOFError) as exc:
            self._drop()
            raise ServerDied(f"the Isa-REPL connection to {self.address} broke: {exc}") from exc

    def _goto(self, name: str) -> None:
        if self._current == name:
            return
        if name not in self._states:
            raise BridgeError(f"no Isa-REPL state named {name!r}")
        self._current = None
        self._call(lambda c: c.rollback(name), self._call_timeout)
        self._current = name

    def _record(self, name: str, result: StepResult) -> None:
        self._call(lambda c: c.record_state(name), self._call_timeout)
        self._states[name] = _Recorded(result.state, result.proof_level)
        self._current = name

    def _eval(self, source: str, timeout: float, import_dir: str | None = None) -> StepResult:
        """Run `source` from the current state; the connection then sits on an unnamed state."""
        millis = max(1, round(timeout * 1000))
        self._current = None
        options: dict[str, Any] = {"timeout": millis, "cmd_timeout": millis}
        if import_dir:
            options["import_dir"] = import_dir
        try:
            reply = self._call(lambda c: c.eval(source, **options), timeout + self._grace)
        except _Deadline:
            return StepResult(timed_out=True)
        except self._repl.REPLFail as exc:
            return self._failure(str(exc))
        error = None
        if isinstance(reply, tuple) and len(reply) == 2 and not hasattr(reply[0], "flags"):
            reply, error = reply  # earlier clients: (outputs, error message or None)
        commands = [_command_view(o) for o in reply or ()]
        errors = [e for c in commands for e in c.errors] + ([str(error)] if error else [])
        if errors:
            return self._failure(" | ".join(" ".join(e.split()) for e in errors))
        if not commands:
            return StepResult(error="no command to run")
        last = commands[-1]
        return StepResult(state=last.state.strip(), proof_level=last.proof_level)

    @staticmethod
    def _failure(message: str) -> StepResult:
        if _TIMEOUT_TEXT.search(message):
            return StepResult(timed_out=True)
        return StepResult(error=message)
