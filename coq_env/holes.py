"""The holes in a Rocq file: lemmas whose proof ends in `Admitted.`, and `admit.`/`give_up.` steps in finished proofs.

For each hole it gives what a prover needs (the statement as written, the file's text before it, the sections and
modules open there, the lemmas still open before it) and what a writer needs to put a proof in its place while
keeping the rest of the file byte-identical (the exact span of text the proof replaces).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace

from coq_env.sentences import normalize, split_sentences
# verify's reading of a file's commands, with the sections and modules around each, is the one this file must
# agree with: a hole's scopes and qualified name are what the checker will see.
from coq_env.verify import DECLARATION, qualify, scoped_commands

ADMITTED = "admitted"  # a lemma whose proof ends in `Admitted.`: its whole proof is the hole
ADMIT = "admit"  # an `admit.` / `give_up.` step in a proof ending in Qed/Defined: its focused goal is the hole
_PROOF_OPENING = re.compile(r"^Proof(\s|\.$)")  # `Proof.`, `Proof using x.`, `Proof with auto.`
_PROOF_END = re.compile(r"^(Qed|Defined|Save|Admitted|Abort)\b")
_SELECTOR = re.compile(r"^(\d+|all|\[\s*[\w']+\s*\])\s*:\s*")  # `2: admit.` still focuses one goal
_PLAIN_ADMIT = re.compile(r"^(admit|give_up)\s*\.$")
_MENTIONS_ADMIT = re.compile(r"(?<![\w'.])(admit|give_up)(?![\w'])")
_STRING = re.compile(r'"[^"]*"')


@dataclass(frozen=True)
class Hole:
    """One hole of a file. Offsets are indices into the file's text as a Python str (characters, not bytes)."""

    name: str  # the lemma's name as declared
    qualified_name: str  # as the compiled file names it: with the enclosing modules (sections do not qualify)
    kind: str  # ADMITTED or ADMIT
    line: int  # 1-based line of the hole's keyword (`Admitted`, `admit`, `give_up`)
    statement_line: int  # 1-based line where the statement starts
    statement: str  # the declaration as written, from its first word (attributes included) through its final '.'
    start: int  # text[start:end] is what a proof replaces: for ADMITTED everything after the statement through
    end: int  # `Admitted.` (so `Proof.` and partial steps too); for ADMIT the `admit.` sentence itself
    replaced: str  # text[start:end] when the file was read (fill_hole refuses a file that changed since)
    context: str  # the file's text before the statement (comments leading into it included)
    scopes: tuple[tuple[str, str], ...]  # sections and modules open at the statement, outermost first: (kind, name)
    proof_opening: str  # the `Proof.` / `Proof using ...` sentence as written, or "" when there is none
    steps_before: tuple[str, ...]  # the proof's sentences after the opening and before the hole, as written
    open_before: tuple[str, ...]  # qualified names of earlier lemmas in the file that still have holes
    ordinal: int = 1  # for ADMIT: which admit of its proof (1-based), as the proof is written
    unsupported: str | None = None  # why the prover cannot work on this hole, or None

    @property
    def label(self) -> str:
        """Names the hole uniquely within its file: the lemma's qualified name, with the admit's ordinal."""
        return self.qualified_name if self.kind == ADMITTED else f"{self.qualified_name}#admit{self.ordinal}"


def find_holes(text: str) -> list[Hole]:
    """Every hole of a Rocq file's text, in file order. Comments and strings are never read as commands.

    A proof that ends in `Admitted.` is one hole, whatever `admit.` steps it holds. A proof that ends in `Qed.`
    or `Defined.` gives one hole per `admit.`/`give_up.` step (Coq refuses to save such a proof, so the file
    compiles only once each is filled); a step that hides one inside a larger tactic (`split; admit.`) is a hole
    marked unsupported, as is any hole inside a `Module Type`. Aborted and unfinished proofs hold no hole, nor
    do unnamed `Goal`s and definitions or instances built in proof mode (only Theorem, Lemma, Fact, Remark,
    Corollary, Proposition, Property and Example are lemmas to prove).
    """
    located = _located_sentences(text)
    scoped = scoped_commands([sentence for sentence, _, _ in located])
    line_of = _line_finder(text)
    holes: list[Hole] = []
    open_lemmas: list[str] = []
    i = 0
    while i < len(located):
        command, scopes = scoped[i]
        declared = DECLARATION.match(command)
        end = _proof_end(scoped, i + 1) if declared else None
        if end is None:
            i += 1
            continue
        _, sentence_start, statement_end = located[i]
        statement_start = _code_start(text, sentence_start, statement_end)
        body = located[i + 1 : end]
        opening = body[0][0] if body and _PROOF_OPENING.match(normalize(body[0][0])) else ""
        steps = body[1:] if opening else body
        name = declared.group(1)
        in_module_type = next((scope for kind, scope in scopes if kind == "Module Type"), None)
        shared = dict(
            name=name,
            qualified_name=qualify(scopes, name),
            statement_line=line_of(statement_start),
            statement=text[statement_start:statement_end],
            context=text[:statement_start],
            scopes=scopes,
            proof_opening=opening,
            open_before=tuple(open_lemmas),
        )
        found = []
        ending = _PROOF_END.match(scoped[end][0]).group(1)
        if ending == "Admitted":
            _, admitted_start, admitted_end = located[end]
            keyword = _code_start(text, admitted_start, admitted_end)
            found.append(Hole(kind=ADMITTED, line=line_of(keyword), start=statement_end, end=admitted_end,
                              replaced=text[statement_end:admitted_end], steps_before=_written(steps), **shared))
        elif ending != "Abort":
            for k, (sentence, step_start, step_end) in enumerate(steps):
                code = _SELECTOR.sub("", _STRING.sub('""', normalize(sentence)))
                if not _MENTIONS_ADMIT.search(code):
                    continue
                unsupported = None if _PLAIN_ADMIT.match(code) else f"'{code}' hides an admit inside a larger tactic"
                at = _code_start(text, step_start, step_end)
                found.append(Hole(kind=ADMIT, line=line_of(at), start=at, end=step_end, replaced=text[at:step_end],
                                  steps_before=_written(steps[:k]), ordinal=len(found) + 1, unsupported=unsupported,
                                  **shared))
        if in_module_type:
            reason = f"inside Module Type {in_module_type}: an interface's proofs cannot be checked on their own"
            found = [replace(hole, unsupported=reason) for hole in found]
        elif found:
            open_lemmas.append(shared["qualified_name"])  # Coq lets later proofs use it: they then rest on a hole
        holes += found
        i = end + 1
    return holes


def fill_hole(text: str, hole: Hole, proof: str) -> str:
    """`text` with `proof` in place of `hole`'s span, every other character unchanged. For an ADMITTED hole the
    proof replaces everything after the statement (so it brings its own `Proof.` and `Qed.`); for an ADMIT hole it
    replaces the `admit.` step. Raises ValueError if the file no longer has the hole's text at its span."""
    if text[hole.start:hole.end] != hole.replaced:
        raise ValueError(f"{hole.label}: the file changed since its holes were read (line {hole.line})")
    return text[:hole.start] + proof + text[hole.end:]


def _located_sentences(text: str) -> list[tuple[str, int, int]]:
    """Each sentence of `text` (as split_sentences gives it) with its start and end offsets in `text`."""
    located, cursor = [], 0
    for sentence in split_sentences(text):
        start = text.index(sentence, cursor)  # sentences are stripped slices of the text, in order
        cursor = start + len(sentence)
        located.append((sentence, start, cursor))
    return located


def _proof_end(scoped: list[tuple[str, tuple]], first: int) -> int | None:
    """Index of the sentence that ends the proof starting at `first`, or None when another declaration or the end
    of the file comes first (an unfinished proof)."""
    for j in range(first, len(scoped)):
        command = scoped[j][0]
        if _PROOF_END.match(command):
            return j
        if DECLARATION.match(command):
            return None
    return None


def _code_start(text: str, start: int, end: int) -> int:
    """The first offset in text[start:end] that is neither blank nor inside a comment (strings in comments are
    read whole, as Coq does: a `*)` in one closes nothing)."""
    depth, i = 0, start
    while i < end:
        if text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("*)", i):
            depth, i = depth - 1, i + 2
        elif depth and text[i] == '"':
            closing = text.find('"', i + 1)
            i = end if closing < 0 else closing + 1
        elif depth or text[i].isspace():
            i += 1
        else:
            return i
    return i


def _line_finder(text: str):
    """A function from an offset in `text` to its 1-based line."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return lambda offset: bisect_right(line_starts, offset)


def _written(located: list[tuple[str, int, int]]) -> tuple[str, ...]:
    return tuple(sentence for sentence, _, _ in located)
