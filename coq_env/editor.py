"""Rocq for editors (prover serve): a file up to the cursor read into a theorem and its tactics, refusing any
vernacular that may not run, and a RocqBackend whose waits end at a request's deadline."""
from __future__ import annotations

import re
import time

from coq_env.backend import RocqBackend
from coq_env.coqtop import CoqtopTimeout
from coq_env.sentences import split_sentences, strip_comments, vernacular_problem
from prover.syntax import DeadlinePassed, EditorFile, EditorSyntax, EditorTextError
from prover.types import Theorem

_STARTS_PROOF = re.compile(
    r"^\s*(?:(?:Local|Global|Polymorphic|Program)\s+)*"
    r"(Theorem|Lemma|Example|Corollary|Proposition|Fact|Remark|Goal)\b"
)
_PROOF = re.compile(r"^\s*Proof(\s+(with|using)\b.*)?\.$", re.S)


def read_file(text: str) -> EditorFile:
    """The theorem, the tactics so far and an unterminated last sentence, from Rocq file text up to the cursor.

    Every sentence coqtop will run must be one `vernacular_problem` allows: the file comes from whoever can reach
    the server, so nothing in it may reach outside coqtop (`Redirect`, `Extraction`, `Cd`, `Load`, ...)."""
    sentences = split_sentences(text)
    partial = ""
    if sentences and not sentences[-1].endswith(".") and not re.fullmatch(r"-+|\++|\*+|\{|\}", sentences[-1]):
        partial = sentences.pop()
    for number, sentence in enumerate(sentences, 1):
        problem = vernacular_problem(sentence)
        if problem:
            raise EditorTextError(f"sentence {number} ({' '.join(sentence.split())[:60]!r}): {problem}")
    starts = [i for i, s in enumerate(sentences) if _STARTS_PROOF.match(strip_comments(s))]
    if not starts:
        raise EditorTextError("no Theorem/Lemma/Example/Goal statement found before the cursor")
    at = starts[-1]
    name_match = re.match(r"\s*\S+\s+([A-Za-z_][\w']*)", strip_comments(sentences[at]))
    name = name_match.group(1) if name_match and not sentences[at].lstrip().startswith("Goal") else "editor_goal"
    theorem = Theorem(name=name, statement=sentences[at], header="\n".join(sentences[:at]), backend="rocq")
    tactics = [s for s in sentences[at + 1:] if not _PROOF.match(strip_comments(s))]
    return EditorFile(theorem, tactics, partial)


class DeadlineRocqBackend(RocqBackend):
    """A RocqBackend whose waits for coqtop (header, statement, `Show`, tactics) end at its `deadline`
    (time.monotonic()), if one is set: a slow header then stops at the request's deadline, not at the backend's
    own header timeout, and coqtop, still busy with it, is closed (the next `open` starts a fresh one)."""

    deadline: float | None = None

    def _send(self, sentence: str, timeout: float):
        if self.deadline is None:
            return super()._send(sentence, timeout)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed()
        try:
            return super()._send(sentence, min(timeout, left))
        except CoqtopTimeout:
            if time.monotonic() < self.deadline:
                raise
            self.close()
            raise DeadlinePassed() from None


EDITOR = EditorSyntax(read=read_file, checking_backend=DeadlineRocqBackend)
