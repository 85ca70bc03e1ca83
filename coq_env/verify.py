"""Sound verification of a Rocq proof file: coqc in a fresh sandboxed process, then Print Assumptions."""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from coq_env.coqtop import Coqtop, CoqtopDied, CoqtopTimeout, SandboxLimits, find_executable
from coq_env.sentences import normalize, split_sentences, strip_comments, tactic_problem
from prover.sandbox import Sandbox
from prover.types import Theorem, Verdict

CHECK_ROOT = "LlemmaChecked"  # logical path the checked file is compiled under; anything in it is the file's own
LIBRARY_ROOTS = ("Coq.", "Coquelicot.", "mathcomp.")  # installed libraries whose axioms a proof may rely on
_DECLARATION = re.compile(r"^(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+([\w']+)")
_PROOF_END = ("Qed.", "Defined.")
# Commands whose mere presence means the file assumes something instead of proving it.
_ASSUMING = re.compile(
    r"^(?:#\[[^\]]*\]\s*)?(?:Local\s+|Global\s+)?(Admitted|Abort|Axiom|Axioms|Parameter|Parameters|Conjecture|"
    r"Hypothesis|Hypotheses|Variable|Variables|Context|Declare\s+Module|Unset\s+Guard\s+Checking|"
    r"Unset\s+Universe\s+Checking|Unset\s+Positivity\s+Checking|Set\s+Type\s+In\s+Type|Admit\s+Obligations)\b"
)


class CannotCheck(Exception):
    """The checker itself could not run (no coqc, unreadable file)."""


def check_proof_text(
    text: str,
    expected: Theorem | None = None,
    theorem_name: str | None = None,
    extra_header: tuple[str, ...] = (),
    limits: SandboxLimits = SandboxLimits(),
    timeout: float = 300.0,
) -> Verdict:
    """Accept `text` only if it proves its theorem(s) from the standard library alone.

    With `expected`, the file must be that benchmark theorem: the benchmark's header (optionally followed
    by the automation import), the statement exactly, then `Proof.`, tactics only, and `Qed.`.
    """
    sentences = split_sentences(text)
    if expected is not None:
        problem = _benchmark_shape_problem(sentences, expected, extra_header)
        names = [expected.name]
    else:
        problem = _generic_problem(sentences)
        names = [theorem_name] if theorem_name else _declared_names(sentences)
        if not names and problem is None:
            problem = "no theorem in the file"
    if problem:
        return Verdict(False, problem)
    with Sandbox("rocq-check-") as box:  # coqc writes only here; the checking coqtop reads it
        (Path(box.dir) / "Proof.v").write_text(text)
        compiled = _coqc(box, limits, timeout)
        if compiled is not None:
            return Verdict(False, compiled)
        return _assumptions_verdict(box.dir, names, limits, timeout)


def _benchmark_shape_problem(sentences: list[str], expected: Theorem, extra_header: tuple[str, ...]) -> str | None:
    header = [normalize(s) for s in split_sentences(expected.header)]
    allowed_extras = [normalize(s) for s in extra_header]
    i = 0
    for want in header:
        if i >= len(sentences) or normalize(sentences[i]) != want:
            return "the file's header differs from the benchmark's"
        i += 1
    while i < len(sentences) and normalize(sentences[i]) in allowed_extras:
        i += 1
    if i >= len(sentences) or normalize(sentences[i]) != normalize(expected.statement):
        return f"the statement of {expected.name} differs from the benchmark's"
    i += 1
    if i < len(sentences) and normalize(sentences[i]) == "Proof.":
        i += 1
    body_end = next((j for j in range(i, len(sentences)) if normalize(sentences[j]) in _PROOF_END), None)
    for sentence in sentences[i : body_end if body_end is not None else len(sentences)]:
        problem = tactic_problem(sentence)
        if problem:
            return f"proof step refused: {problem}"
    if body_end is None:
        return "the proof does not end with Qed."
    if body_end + 1 < len(sentences):
        return "commands after the end of the proof"
    return None


def first_assumption(sentences: list[str]) -> tuple[int, str] | None:
    """(index, keyword) of the first sentence that assumes instead of proving (`Admitted`, `Axiom`, a `Variable`
    outside any section, ...), or None."""
    in_section = 0
    for i, sentence in enumerate(sentences):
        s = normalize(sentence)
        if re.match(r"^Section\s", s):
            in_section += 1
        elif re.match(r"^End\s", s) and in_section:
            in_section -= 1
        m = _ASSUMING.match(s)
        if m:
            keyword = " ".join(m.group(1).split())
            if in_section and keyword in ("Hypothesis", "Hypotheses", "Variable", "Variables", "Context"):
                continue  # a section variable is discharged when the section closes
            return i, keyword
    return None


def _generic_problem(sentences: list[str]) -> str | None:
    found = first_assumption(sentences)
    if found:
        return f"the file uses '{found[1]}'"
    for sentence in sentences:
        if re.search(r"(?<![\w'.])(admit|give_up)(?![\w'])", strip_comments(sentence)):
            return "the proof uses 'admit'"
    return None


def _declared_names(sentences: list[str]) -> list[str]:
    return [m.group(1) for s in sentences if (m := _DECLARATION.match(normalize(s)))]


def _coqc(box: Sandbox, limits: SandboxLimits, timeout: float) -> str | None:
    """Compile the sandbox's Proof.v; the first error line if it does not compile."""
    coqc = find_executable("coqc")
    try:
        done = box.run([coqc, "-q", "-Q", ".", CHECK_ROOT, "Proof.v"], limits, timeout)
    except subprocess.TimeoutExpired:
        return f"coqc did not finish in {timeout:.0f}s"
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()
        err = re.search(r"^Error:\s*(.*)", out, re.M | re.S)
        return "does not compile: " + " ".join((err.group(1) if err else out or f"exit {done.returncode}").split())[:300]
    return None


def _assumptions_verdict(folder: str, names: list[str], limits: SandboxLimits, timeout: float) -> Verdict:
    """Ask a fresh coqtop what the compiled theorems rest on, and resolve each axiom to its full path."""
    try:
        with Coqtop(args=("-Q", folder, CHECK_ROOT), limits=limits) as coq:
            reply = coq.send(f"Require {CHECK_ROOT}.Proof.", timeout)
            if reply.error:
                return Verdict(False, f"compiled file does not load: {reply.error}")
            axioms: set[str] = set()
            for name in names:
                reply = coq.send(f"Print Assumptions {CHECK_ROOT}.Proof.{name}.", timeout)
                if reply.error:
                    return Verdict(False, f"no theorem {name}: {reply.error}")
                entries, unsafe = _parse_assumptions(reply.output)
                if unsafe:
                    return Verdict(False, f"unsafe: {unsafe[0]}")
                for entry in entries:
                    about = coq.send(f"About {entry}.", timeout)
                    full = re.search(r"Expands to:\s+\w+\s+(\S+)", about.output)
                    axioms.add(full.group(1) if full else entry)
    except (CoqtopDied, CoqtopTimeout) as exc:
        return Verdict(False, f"checker failed: {exc}")
    own = sorted(a for a in axioms if a.startswith(CHECK_ROOT + ".") or not a.startswith(LIBRARY_ROOTS))
    if own:
        shown = own[0].removeprefix(f"{CHECK_ROOT}.Proof.")
        return Verdict(False, f"relies on an assumption the file declares itself: {shown}", tuple(sorted(axioms)))
    return Verdict(True, "", tuple(sorted(axioms)))


def _parse_assumptions(output: str) -> tuple[list[str], list[str]]:
    """Axiom names, and lines that report unsafe checking (unguarded fixpoints, collapsed universes...)."""
    entries, unsafe = [], []
    for line in output.splitlines():
        if line.strip() == "Closed under the global context":
            continue  # Coq's whole answer when there is nothing; never a substring test: an axiom's type can say it
        if not line or line[0].isspace() or re.fullmatch(r"[A-Z][\w ]*:", line) or line.startswith("Fetching opaque"):
            continue  # continuation of a type, or a section title like "Axioms:"
        if re.search(r"\b(unsafe|assumed|type.in.type)\b", line):
            unsafe.append(line.strip())
        else:  # "name : type", or "name" alone when the type wraps onto the next lines
            entries.append(line.split()[0])
    return entries, unsafe
