"""What a proof inside a functor rests on: `Print Assumptions` asked inside the functor's body, where the lemma is.

Outside `End F.` a functor's lemma is no constant (`F.lemma` is not found), so the checked file itself asks, just
before its closing `End`s, and coqc's output is read between markers. Inside, the fields of the functor's parameters
(`Module F (X : S)`: X.t, X.ax) show up as axioms: they are what the functor is parameterized by, not assumptions of
the proof, so they are told apart by their full paths (a second compile asks `About` each one).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from coq_env.coqtop import SandboxLimits, find_executable
from coq_env.assumptions import CHECK_ROOT, LIBRARY_ROOTS, parse_assumptions
from prover.sandbox import Sandbox
from prover.types import Verdict

_MARK = "<<LLEMMA-CHECK>>"
_PRINT_MARK = f'Goal True. idtac "{_MARK}". Abort.'  # coqc prints the marker on a line of its own
_MODULE_NAME = re.compile(r"\s*Module\s+(?:(?:Import|Export)\s+)?[\w']+")
_OWN = f"{CHECK_ROOT}.Proof."


def functor_parameters(module_sentences: list[str]) -> tuple[str, ...]:
    """The names the module-opening sentences bind as functor parameters: `Module F (Import X Y : S) (Z : T)`
    binds X, Y and Z (the bracketed binders right after the module's name)."""
    names: list[str] = []
    for sentence in module_sentences:
        found = _MODULE_NAME.match(re.sub(r"\(\*.*?\*\)", " ", sentence, flags=re.S))
        rest = found.string[found.end():] if found else ""
        while rest.lstrip().startswith("("):
            rest = rest.lstrip()
            depth, end = 0, None
            for i, char in enumerate(rest):
                depth += {"(": 1, ")": -1}.get(char, 0)
                if depth == 0:
                    end = i
                    break
            if end is None:
                break
            binder = re.match(r"\(\s*(?:(?:Import|Export)\s+)?([^:]*):", rest[:end + 1])
            names += binder.group(1).split() if binder else []
            rest = rest[end + 1:]
    return tuple(names)


def functor_assumptions_verdict(box: Sandbox, body: str, closing: str, lemma: str, parameters: tuple[str, ...],
                                limits: SandboxLimits, timeout: float, load_flags: tuple[str, ...] = (),
                                allowed_own: tuple[str, ...] = ()) -> Verdict:
    """The verdict on what `lemma` (its short name, declared last in `body`, inside the functor) rests on:
    `body` then `closing` (the `End`s) compiled with `Print Assumptions`, then `About` each entry, in between.
    Accepted: standard libraries' axioms (LIBRARY_ROOTS), the functor's parameters' fields, and the file's open
    lemmas in `allowed_own`; the verdict's axioms leave out the parameters' fields."""
    printed = _between_marks(box, body, [f"Print Assumptions {lemma}."], closing, limits, timeout, load_flags)
    if isinstance(printed, Verdict):
        return printed
    entries, unsafe = parse_assumptions(printed[0])
    if unsafe:
        return Verdict(False, f"unsafe: {unsafe[0]}")
    if not entries:
        return Verdict(True, "", ())
    about = _between_marks(box, body, [f"About {entry}." for entry in entries], closing, limits, timeout, load_flags)
    if isinstance(about, Verdict):
        return about
    axioms = []
    for entry, said in zip(entries, about):
        found = re.search(r"Expands to:\s+\w+\s+(\S+)", said)
        full = found.group(1) if found else entry
        if full.split(".", 1)[0] not in parameters:
            axioms.append(full)
    own = sorted(a for a in axioms if (a.startswith(CHECK_ROOT + ".") or not a.startswith(LIBRARY_ROOTS))
                 and a.removeprefix(_OWN) not in allowed_own)
    if own:
        return Verdict(False, f"relies on an assumption the file declares itself: {own[0].removeprefix(_OWN)}",
                       tuple(sorted(axioms)))
    return Verdict(True, "", tuple(sorted(axioms)))


def _between_marks(box: Sandbox, body: str, commands: list[str], closing: str, limits: SandboxLimits,
                   timeout: float, load_flags: tuple[str, ...]) -> list[str] | Verdict:
    """What coqc printed for each of `commands`, run at the end of `body`; a rejecting Verdict if it failed."""
    asked = "".join(f"{_PRINT_MARK}\n{command}\n" for command in commands) + f"{_PRINT_MARK}\n"
    (Path(box.dir) / "Proof.v").write_text(f"{body}\n{asked}{closing}")
    try:
        done = box.run([find_executable("coqc"), "-q", *load_flags, "-Q", ".", CHECK_ROOT, "Proof.v"], limits, timeout)
    except subprocess.TimeoutExpired:
        return Verdict(False, f"checker failed: coqc did not finish in {timeout:.0f}s")
    parts = done.stdout.split(f"{_MARK}\n")
    if done.returncode != 0 or len(parts) != len(commands) + 2:
        return Verdict(False, f"checker failed: {' '.join((done.stdout + done.stderr).split())[-300:]}")
    return parts[1:-1]
