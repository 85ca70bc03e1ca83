"""Our API to a running Isabelle: named top-level states, PISA-style, whatever server is behind them.

Isabelle's top-level states are immutable values, so a server can keep any number of them under names and run
a command on any of them: PISA keeps a map from names to states, Isa-REPL records states and rolls back to
them. The backend branches by naming every state it reaches and never needs to undo anything. A driver
(isabelle_env/pisa_client.py, isabelle_env/isarepl_driver.py) implements IsabelleBridge for one server.

States live in the server: when it is restarted or the connection is replaced, every name is gone. A driver
says so by increasing `generation`, and the backend re-creates the states it still needs by replaying.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from prover.types import BackendUnavailable

DEFAULT_THEORY_NAME = "Scratch"  # for a header built from imports alone


@dataclass(frozen=True)
class StepResult:
    """What one Isar command did to a named state."""

    state: str = ""  # the new state as Isabelle prints it, e.g. "proof (prove)\ngoal (1 subgoal):\n 1. x = x"
    proof_level: int = 0  # Toplevel.level of the new state: 0 outside any proof (a closed theorem, a theory)
    error: str | None = None  # Isabelle refused the command; the new name was not created
    timed_out: bool = False  # the command ran past its limit; the new name was not (reliably) created

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    @property
    def finished(self) -> bool:
        """No proof open any more: after a proof step, the theorem is proved."""
        return self.ok and self.proof_level == 0


class BridgeError(Exception):
    """The driver got something it cannot use (an unknown state name, a reply it cannot read)."""


class ServerDied(BackendUnavailable):
    """The server behind a bridge is gone or wedged. `restart()` may bring it back; if it cannot, it raises this
    again, and as a BackendUnavailable it ends a batch: without a server no theorem can be tried."""


@runtime_checkable
class IsabelleBridge(Protocol):
    """One Isabelle server holding named top-level states."""

    generation: int  # increases whenever all named states were lost (server restarted, connection replaced)

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
        """Make `name` a theory-level state that has processed a theory header.

        The header is `header` (`theory T imports ... begin`), or the one in `theory_file`, or one built from
        `imports`; theories are looked up relative to `working_dir` (default: the theory file's folder).
        """
        ...

    def step(self, state_name: str, command: str, new_name: str, timeout: float) -> StepResult:
        """Run Isar text on the state `state_name`; on success the result is the state `new_name`."""
        ...

    def clone(self, src: str, dst: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def list(self) -> list[str]: ...

    def proof_level(self, name: str) -> int: ...

    def sledgehammer(self, state_name: str, timeout: float) -> str | None:
        """A command that Sledgehammer found to close the first goal of the state (e.g. "by (metis foo)"),
        or None if it found none in time. The state itself is left as it was."""
        ...

    def restart(self) -> None:
        """Replace a dead server or connection: all states are lost and `generation` increases.
        Raises ServerDied if there is no way to bring it back."""
        ...

    def close(self) -> None: ...


# -- theory headers ---------------------------------------------------------------------------------------
_COMMENT = re.compile(r"\(\*.*?\*\)", re.S)
_HEADER = re.compile(r"\btheory\s+(?P<name>[^\s\"]+|\"[^\"]*\")\s+imports\s+(?P<imports>.*?)\s*\bbegin\b", re.S)


@dataclass(frozen=True)
class TheoryHeader:
    name: str
    imports: tuple[str, ...]  # as written, quotes kept: Complex_Main, "HOL-Library.Sum_of_Squares"
    text: str  # `theory NAME imports ... begin` on one line
    rest: str  # whatever the header has after `begin` (definitions, declarations); "" for miniF2F


def split_header(header: str) -> TheoryHeader | None:
    """The `theory ... imports ... begin` of a benchmark header, or None if it has none."""
    text = _COMMENT.sub(" ", header)  # miniF2F files open with an (* Authors: ... *) comment
    m = _HEADER.search(text)
    if not m:
        return None
    imports = tuple(re.findall(r"\"[^\"]*\"|[^\s\"]+", m.group("imports")))
    return TheoryHeader(
        name=m.group("name"),
        imports=imports,
        text=f"theory {m.group('name')} imports {' '.join(imports)} begin",
        rest=text[m.end():].strip(),
    )


def theory_header(imports: Sequence[str], name: str = DEFAULT_THEORY_NAME) -> str:
    """`theory NAME imports ... begin`; import names with characters Isabelle's name syntax lacks are quoted."""
    quoted = [i if i.startswith('"') or re.fullmatch(r"[\w.']+", i) else f'"{i}"' for i in imports]
    return f"theory {name} imports {' '.join(quoted)} begin"


def resolve_header(
    header: str | None, theory_file: str | None, imports: Sequence[str]
) -> tuple[str, str | None]:
    """(the header text to process, the working directory it implies); exactly one source must be given."""
    given = [x for x in (header, theory_file, tuple(imports) or None) if x]
    if len(given) != 1:
        raise ValueError("initialise needs exactly one of header, theory_file, imports")
    if header:
        return header, None
    if theory_file:
        with open(theory_file, encoding="utf-8") as f:
            parsed = split_header(f.read())
        if parsed is None:
            raise BridgeError(f"{theory_file}: no `theory ... imports ... begin` header")
        return parsed.text, os.path.dirname(os.path.abspath(theory_file))
    return theory_header(imports), None


# -- reading states ---------------------------------------------------------------------------------------
_GOAL_COUNT = re.compile(r"goal \((\d+) subgoals?\)")


def subgoal_count(state: str) -> int | None:
    """How many subgoals a printed proof state shows (0 for "No subgoals!"), None if it shows no goal."""
    m = _GOAL_COUNT.search(state)
    if m:
        return int(m.group(1))
    return 0 if "No subgoals!" in state else None
