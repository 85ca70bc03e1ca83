"""Proving a hole of a user's Rocq file in its own context: the theorem the search opens, and the proof's check.

The context is what Coq sees before the hole's statement: the file's text up to it, under the project's load-path
flags. Earlier holes of the file stay available, as Coq makes them (an `Admitted` lemma is an axiom), so a proof
may use them; its verdict then says "depends on open lemma X" instead of passing as clean.

An `admit.` step's hole is the goal it gives up, stated as a lemma of its own (coq_env.admit_goal): the search
proves that lemma, and the check then fills the step with the proof inside the hole's own proof.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Sequence

from coq_env.admit_goal import NoAdmitGoal, admit_goal_statement, admit_lemma_name, filled_admit
from coq_env.assumptions import CHECK_ROOT, LIBRARY_ROOTS, assumptions_verdict, compile_checked_file
from coq_env.coqtop import SandboxLimits
from coq_env.functor_assumptions import functor_assumptions_verdict, functor_parameters
from coq_env.holes import ADMIT, Hole, find_holes
from coq_env.project import CoqProject
from coq_env.proof_imports import needed_imports
from coq_env.sentences import normalize, split_sentences
from coq_env.verify import DEFAULT_TIMEOUT, proof_shape_problem, render_proof, scoped_commands
from coq_env.writeback import missing_dependency
from prover.sandbox import Sandbox, named_paths
from prover.types import Theorem, Verdict

OPEN_LEMMA = "depends on open lemma"  # how an accepted verdict's reason starts when the proof rests on a hole
_SAVE = re.compile(r"^(Qed|Defined|Save)\b")
_FILE_PREFIX = f"{CHECK_ROOT}.Proof."  # how the checker names what the checked file declares


class CannotProveHole(ValueError):
    """The prover cannot work on this hole (an `admit.` step, a Module Type, a project library not compiled):
    one line saying why."""


def hole_theorem(path: str | Path, hole: Hole, project: CoqProject, limits: SandboxLimits = SandboxLimits()) -> Theorem:
    """The theorem to search for `hole` of the file at `path`: named by the hole's label, its header the file's
    text before the statement (with earlier proofs that hold an `admit.` ending in `Admitted.`, as the holes they
    are: Coq refuses to save them with `Qed`), its statement as written, or for an `admit.` step the lemma
    stating the goal it gives up (coq_env.admit_goal: this runs coqtop). The backend and verifier need the
    project's flags (`project.flags()`) to load it.

    Raises CannotProveHole for a hole find_holes marks unsupported, an admitted goal that cannot be stated on its
    own, or a library of the project the context requires that has no `.vo` yet.
    """
    if hole.unsupported:
        raise CannotProveHole(f"{hole.label}: {hole.unsupported}")
    header = _with_admit_proofs_admitted(hole.context)
    problem = missing_dependency(header, project, Path(path).absolute())
    if problem:
        raise CannotProveHole(problem)
    statement = hole.statement
    if hole.kind == ADMIT:
        try:
            statement = admit_goal_statement(header, hole, tuple(project.flags()), limits)
        except NoAdmitGoal as exc:
            raise CannotProveHole(f"{hole.label}: {exc}") from None
    return Theorem(name=hole.label, statement=statement, header=header, backend="rocq")


def check_in_context(path: str | Path, hole: Hole, tactics: Sequence[str], project: CoqProject,
                     timeout: float = DEFAULT_TIMEOUT, limits: SandboxLimits = SandboxLimits(),
                     theorem: Theorem | None = None) -> Verdict:
    """Check that `tactics` prove `hole` in its file's context: the hole's theorem as the search had it (header,
    the imports the tactics need, statement, `Proof.`, the tactics, `Qed.`, then an `End` for each section and
    module open there) compiled by coqc with the project's flags in a fresh sandbox, then `Print Assumptions` on
    it. For an `admit.` step, the lemma stating its goal is followed by the hole's own proof up to the step and
    the step closed with that lemma as the writer writes it (then `Abort.`): the lemma must be the step's goal.
    `theorem`: hole_theorem's answer, where the caller has it.

    Accepted: axioms of the standard libraries (LIBRARY_ROOTS) as for benchmarks, and the file's earlier open
    lemmas (`hole.open_before`), which the reason then names ("depends on open lemma X, Y"; see
    `depends_on_open_lemmas`). Rejected: anything but tactics between `Proof.` and `Qed.`, a proof that does not
    compile, one that rests on anything else the context declares (an Axiom, a Parameter, an admitted
    definition). The verdict's axioms name the file's own as the file does (`Facts.lemma`), others in full.
    """
    started = time.monotonic()
    try:
        theorem = theorem or hole_theorem(path, hole, project, limits)
    except CannotProveHole as exc:
        return Verdict(False, str(exc))
    tactics = tuple(tactics)
    imports = needed_imports(tactics, hole.context)  # what the writer will put before the lemma
    text = render_proof(theorem, tactics, imports)
    problem = proof_shape_problem(split_sentences(text), theorem, imports)
    if problem:
        return Verdict(False, problem)
    name = hole.qualified_name
    if hole.kind == ADMIT:
        opening = hole.proof_opening or "Proof."
        lemma = admit_lemma_name(hole)
        text += "\n".join([hole.statement, opening, *hole.steps_before, filled_admit(hole, lemma), "Abort.\n"])
        name = ".".join([*hole.qualified_name.split(".")[:-1], lemma])
    # The file is cut at the hole: each module still open is closed at once, so its type (`<: S`) is dropped, or
    # coqc would check it against a half-built module. Inside the module nothing changes for the proof.
    openings = _open_module_openings(theorem.header)
    text = _open_modules_untyped(text[:len(theorem.header)], openings) + text[len(theorem.header):]
    closing = "".join(f"End {scope}.\n" for _, scope in reversed(hole.scopes))  # coqc refuses a file left inside one
    # Inside a functor the lemma is no constant from outside: its assumptions are asked inside.
    parameters = functor_parameters([sentence for _, sentence in openings])
    flags = tuple(project.flags())
    with Sandbox("rocq-hole-", readable=named_paths(flags)) as box:
        (Path(box.dir) / "Proof.v").write_text(text + closing)
        compiled = compile_checked_file(box, limits, timeout, flags)
        if compiled is not None:
            return Verdict(False, compiled)
        left = max(1.0, timeout - (time.monotonic() - started))
        if parameters:
            verdict = functor_assumptions_verdict(box, text, closing, name.rsplit(".", 1)[-1], parameters, limits,
                                                  left, flags, hole.open_before)
        else:
            verdict = assumptions_verdict(box.dir, [name], limits, left, load_flags=flags,
                                          allowed_own=hole.open_before)
    axioms = tuple(axiom.removeprefix(_FILE_PREFIX) for axiom in verdict.axioms)
    open_lemmas = [axiom for axiom in axioms if axiom in hole.open_before]
    reason = f"{OPEN_LEMMA} {', '.join(open_lemmas)}" if verdict.accepted and open_lemmas else verdict.reason
    return Verdict(verdict.accepted, reason, axioms)


def depends_on_open_lemmas(verdict: Verdict) -> tuple[str, ...]:
    """The file's open lemmas an accepted check_in_context verdict rests on (empty: proved clean)."""
    if not verdict.accepted or not verdict.reason.startswith(OPEN_LEMMA):
        return ()
    return tuple(axiom for axiom in verdict.axioms if not axiom.startswith(LIBRARY_ROOTS))


def _with_admit_proofs_admitted(context: str) -> str:
    """`context` with each proof that holds an `admit.` and ends in Qed/Defined/Save ending in `Admitted.`
    instead, every other character kept."""
    last_admit_ends: dict[int, int] = {}  # statement offset -> end of the proof's last admit
    for hole in find_holes(context):
        if hole.kind == ADMIT:
            last_admit_ends[len(hole.context)] = max(hole.end, last_admit_ends.get(len(hole.context), 0))
    for admit_end in sorted(last_admit_ends.values(), reverse=True):  # from the end: earlier offsets stay valid
        cursor = admit_end
        for sentence in split_sentences(context[admit_end:]):
            start = context.index(sentence, cursor)  # sentences are stripped slices of the text, in order
            cursor = start + len(sentence)
            if _SAVE.match(normalize(sentence)):
                context = context[:start] + "Admitted." + context[cursor:]
                break
    return context


def _open_modules_untyped(context: str, openings: list[tuple[int, str]]) -> str:
    """`context` with the type of each module still open at its end (`Module M (X : T) <: S.`, `: S`) left out of
    the sentence that opens it, every other character kept; `openings`: _open_module_openings(context)."""
    cuts: list[tuple[int, int]] = []
    for start, sentence in openings:
        if (cut := _module_type_start(sentence)) is not None:
            cuts.append((start + cut, start + len(sentence) - 1))  # up to the closing period
    for cut_start, cut_end in reversed(cuts):
        context = context[:cut_start] + context[cut_end:]
    return context


def _open_module_openings(context: str) -> list[tuple[int, str]]:
    """The sentences that open the modules still open at the end of `context`, with their offsets, outermost first."""
    sentences = split_sentences(context)
    scoped = scoped_commands([*sentences, "Check True."])  # the last entry: the scopes open at the end
    still_open = scoped[-1][1]
    found: list[tuple[int, str]] = []
    cursor = 0
    for i, sentence in enumerate(sentences):
        start = context.index(sentence, cursor)  # sentences are stripped slices of the text, in order
        cursor = start + len(sentence)
        depth, after = len(scoped[i][1]), scoped[i + 1][1]
        opened = len(after) == depth + 1 and depth < len(still_open) and after[depth] == still_open[depth]
        if opened and after[depth][0] == "Module":
            found.append((start, sentence))
    return found


def _module_type_start(sentence: str) -> int | None:
    """Where `: S` or `<: S` starts in a module-opening sentence (after its name and bracketed binders), or None."""
    found = re.match(r"(?:\s|\(\*.*?\*\))*Module\s+(?:(?:Import|Export)\s+)?[\w']+", sentence, re.S)  # comments first
    if found is None:
        return None
    depth, i = 0, found.end()
    while i < len(sentence):
        char = sentence[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and (sentence.startswith("<:", i) or (char == ":" and not sentence.startswith(":=", i))):
            return i
        i += 1
    return None
