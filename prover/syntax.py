"""What a backend's plugin tells the prover core about its proof language: sketch syntax and editor syntax.

`SketchSyntax` is everything prover.translate (Draft-Sketch-Prove) needs to prompt for, read and drive a
backend's proof sketches; `EditorSyntax` is what prover.serve needs to check suggestions against a file an
editor sends. A backend fills them in (in its own sketch and editor modules) and hands them over on its
BackendPlugin; the core never looks at a backend's modules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Protocol

from prover.backend import Backend
from prover.types import Theorem


def plain_statement(theorem: Theorem) -> str:
    """The theorem's statement as the benchmark gives it (SketchSyntax.formal_statement's default)."""
    return theorem.statement.strip()


_KEYWORD_DECLARATION = re.compile(r"^\s*(?:theorem|lemma)\s+([^\s:(\[{]+)")


def keyword_declaration_name(formal: str, language: str) -> str:
    """NAME of a statement that starts `theorem NAME` or `lemma NAME` (Lean, Isabelle); ValueError naming
    `language` (as --backend says it) for any other."""
    m = _KEYWORD_DECLARATION.match(formal)
    if m is None:
        raise ValueError(f"the formal statement must start with 'theorem NAME' for {language}")
    return m.group(1)


@dataclass(frozen=True)
class GapFocus:
    """How a sketch's gap is driven live: `open` focuses the goal the gap stood for, tactics prove it (`closed`
    says so from the goals text they leave), `close` unfocuses. A gap is closed by `open`, the tactics, `close`
    spliced in its place. `normalize` gives the sentence the backend runs for a proposed tactic (so a gap's
    recorded tactics are those a proof file holds)."""

    open: str
    close: str
    closed: Callable[[str], bool]
    normalize: Callable[[str], str]


@dataclass(frozen=True)
class SketchSyntax:
    """A backend's Draft-Sketch-Prove sketches: how a few-shot prompt shows them, how a sampled one is read, how
    its gaps are driven (only where `focus` is given: elsewhere sketches are sampled and parsed, not driven)."""

    gap_word: str  # how the prompt's instruction names a gap, e.g. "admit."
    stops: tuple[str, ...]  # where a sampled sketch ends: a proof terminator, the next problem's start
    # (sketch text, theorem) -> (steps, indices of the gap steps); SketchRefused (a ValueError) if unusable
    parse: Callable[[str, Theorem], tuple[list[str], list[int]]]
    # a user's formal statement -> the name it declares; ValueError (one line, saying what is expected) if it is
    # not one declaration of this language
    statement_name: Callable[[str], str]
    # theorem name -> the shipped few-shot example set (prover/sketch_examples/SET.json) its prompt uses
    example_set: Callable[[str], str]
    comment: tuple[str, str] = ("(*", "*)")  # how the prompt's informal block is commented out
    proof_opening: str = ""  # what follows the formal statement before the proof, e.g. "Proof.\n"
    proof_closing: str = ""  # what follows an example's proof, e.g. "\nQed."
    # the theorem's statement as the prompt ends with it (the model continues right after it)
    formal_statement: Callable[[Theorem], str] = plain_statement
    default_header: str = ""  # what a user's formal statement needs before it when no header is given
    focus: GapFocus | None = None

    @property
    def drivable(self) -> bool:
        """Whether translate can drive this backend's sketches live (close their gaps, check the proof)."""
        return self.focus is not None


# ---- editors ---------------------------------------------------------------------------------------------------

class EditorTextError(ValueError):
    """A file from an editor that cannot be checked as sent (a sentence that may not run, no statement); one line."""


class DeadlinePassed(Exception):
    """The request's deadline passed while the proof assistant was still working for it."""


@dataclass(frozen=True)
class EditorFile:
    """A file up to the editor's cursor, read: the theorem being proved, its tactics so far, and the unterminated
    last sentence (what is typed of the next tactic)."""

    theorem: Theorem
    tactics: list[str]
    partial: str = ""


class CheckingBackend(Backend, Protocol):
    """A backend whose waits on the proof assistant end at `deadline` (time.monotonic(); None: its own timeouts),
    raising DeadlinePassed, and which then leaves the assistant ready for the next `open` (restarting it if need be)."""

    deadline: float | None


@dataclass(frozen=True)
class EditorSyntax:
    """What prover.serve needs from a backend for editors.

    `read` turns the file text up to the cursor into an EditorFile; the file comes from whoever can reach the
    server, so `read` is also the allowed-vernacular check: it raises EditorTextError for anything that may not
    run (a command that reaches outside the proof assistant, say), naming the sentence. `checking_backend` makes
    the backend the server replays the file and runs suggestions on. Both None: suggestions are not checked.
    `protocols`: editor wire formats whose requests mean this backend ("leancopilot": LeanCopilot's /generate)."""

    read: Callable[[str], EditorFile] | None = None
    checking_backend: Callable[[], CheckingBackend] | None = None
    protocols: tuple[str, ...] = ()

    @property
    def checks(self) -> bool:
        return self.read is not None and self.checking_backend is not None
