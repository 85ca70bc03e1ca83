"""Typed replies of the Lean REPL (leanprover-community/repl), shared by the driver, backend and verifier.

The REPL answers each JSON command with one JSON object. Its fields, as the REPL writes them:
  command mode  {"env", "messages"?, "sorries"?, "tactics"?, "infotree"?}
  tactic mode   {"proofState", "goals", "messages"?, "sorries"?, "proofStatus"?}  (proofStatus: REPL >= PR #63)
  failure       {"message": "..."}  (unknown environment / proof state, bad JSON, a Lean exception)
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Lean's warning on a declaration that relies on `sorry`. Lean before v4.28 quotes it 'sorry'
# (DeepSeek-Prover-V1.5's verifier greps for that form); later versions write `sorry`.
SORRY_WARNINGS = ("declaration uses `sorry`", "declaration uses 'sorry'")


@dataclass(frozen=True)
class Position:
    line: int
    column: int

    @classmethod
    def from_json(cls, obj: dict | None) -> "Position | None":
        return None if obj is None else cls(int(obj["line"]), int(obj["column"]))


@dataclass(frozen=True)
class Message:
    severity: str  # "error" | "warning" | "info"
    data: str
    pos: Position | None = None
    end_pos: Position | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def is_sorry_warning(self) -> bool:
        return self.severity == "warning" and self.data.strip() in SORRY_WARNINGS

    @classmethod
    def from_json(cls, obj: dict) -> "Message":
        return cls(
            severity=str(obj.get("severity", "error")),
            data=str(obj.get("data", "")),
            pos=Position.from_json(obj.get("pos")),
            end_pos=Position.from_json(obj.get("endPos")),
        )


@dataclass(frozen=True)
class Sorry:
    goal: str
    proof_state: int | None  # a tactic-mode handle on the sorry's goal (absent in old REPLs / some modes)
    pos: Position | None = None
    end_pos: Position | None = None

    @classmethod
    def from_json(cls, obj: dict) -> "Sorry":
        # Tactic-mode sorries come without positions (the REPL drops line-0 positions).
        state = obj.get("proofState")
        return cls(
            goal=str(obj.get("goal", "")),
            proof_state=None if state is None else int(state),
            pos=Position.from_json(obj.get("pos")),
            end_pos=Position.from_json(obj.get("endPos")),
        )


def _messages(obj: dict) -> tuple[Message, ...]:
    return tuple(Message.from_json(m) for m in obj.get("messages") or ())


def _sorries(obj: dict) -> tuple[Sorry, ...]:
    return tuple(Sorry.from_json(s) for s in obj.get("sorries") or ())


@dataclass(frozen=True)
class CommandReply:
    """Reply to {"cmd": ..., "env"?: ...}."""

    env: int
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)

    @property
    def uses_sorry(self) -> bool:
        """Lean warned that a declaration uses sorry (either quoting). Not `sorries`: with rootGoals the
        REPL lists each declaration's root goal there too."""
        return any(m.is_sorry_warning for m in self.messages)

    @classmethod
    def from_json(cls, obj: dict) -> "CommandReply":
        return cls(env=int(obj["env"]), messages=_messages(obj), sorries=_sorries(obj), raw=obj)


@dataclass(frozen=True)
class TacticReply:
    """Reply to {"tactic": ..., "proofState": ...}."""

    proof_state: int
    goals: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    proof_status: str | None = None  # "Completed" | "Incomplete: ..." | "Error: ..." ; None from REPLs before PR #63
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.is_error)

    @property
    def completed(self) -> bool:
        """The proof is finished and sorry-free, by proofStatus where the REPL sends it.

        Without proofStatus (REPLs before PR #63) the best evidence is: no goals, no error, no sorry;
        a proof left with unassigned metavariables then looks complete, and only the final check in a
        fresh process tells.
        """
        if self.goals or self.errors or self.sorries:
            return False
        return self.proof_status is None or self.proof_status == "Completed"

    @classmethod
    def from_json(cls, obj: dict) -> "TacticReply":
        status = obj.get("proofStatus")
        return cls(
            proof_state=int(obj["proofState"]),
            goals=tuple(str(g) for g in obj.get("goals") or ()),
            messages=_messages(obj),
            sorries=_sorries(obj),
            proof_status=None if status is None else str(status),
            raw=obj,
        )


class ReplError(Exception):
    """The REPL answered {"message": ...}: unknown env/proof state, a malformed command, a Lean exception."""


class ReplCrashed(Exception):
    """The REPL process died, closed its output, or wrote something that is not JSON."""


class ReplTimeout(Exception):
    """A command ran past its time limit (the process has been killed)."""
