"""What a compiled Rocq proof rests on: coqc in a sandbox, then a fresh coqtop's `Print Assumptions`, each axiom
resolved to its full path; in generic mode also that each theorem proves its statement as written and that the file
redefines no standard name. (coq_env.verify decides what to compile; this module audits the result.)"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from coq_env.coqtop import Coqtop, CoqtopDied, CoqtopTimeout, SandboxLimits, find_executable
from prover.sandbox import Sandbox
from prover.types import Verdict

CHECK_ROOT = "LlemmaChecked"  # logical path the checked file is compiled under; anything in it is the file's own
LIBRARY_ROOTS = ("Coq.", "Coquelicot.", "mathcomp.")  # installed libraries whose axioms a proof may rely on
STATED_PREFIX = "LlemmaStated__"  # prefix of the definitions that record a sectioned theorem's type as stated
_MEANINGLESS_LIBRARY_NAMES = ("Coq.Reals.Rtopology.f",)


def compile_checked_file(box: Sandbox, limits: SandboxLimits, timeout: float,
                         load_flags: tuple[str, ...] = ()) -> str | None:
    """Compile the sandbox's Proof.v (as CHECK_ROOT.Proof, after `load_flags`); the first error line if it does
    not compile."""
    coqc = find_executable("coqc")
    try:
        done = box.run([coqc, "-q", *load_flags, "-Q", ".", CHECK_ROOT, "Proof.v"], limits, timeout)
    except subprocess.TimeoutExpired:
        return f"coqc did not finish in {timeout:.0f}s"
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()
        err = re.search(r"^Error:\s*(.*)", out, re.M | re.S)
        return "does not compile: " + " ".join((err.group(1) if err else out or f"exit {done.returncode}").split())[:300]
    return None


@dataclass(frozen=True)
class GenericChecks:
    """What generic mode asks the checking coqtop beyond Print Assumptions."""

    probes: list[tuple[str, str]]  # (theorem, its type as its section states it): see _with_statement_probes
    imports: list[str]  # the file's Require/Import commands
    text_only_names: list[str]  # names the file defines that the compiled file does not list


def assumptions_verdict(
    folder: str, names: list[str], limits: SandboxLimits, timeout: float, generic: GenericChecks | None = None,
    load_flags: tuple[str, ...] = (), allowed_own: tuple[str, ...] = (),
) -> Verdict:
    """Ask a fresh coqtop what the compiled theorems rest on, and resolve each axiom to its full path; in generic
    mode also that each theorem's type is its statement as written and that no standard name is redefined.
    `allowed_own`: axioms the file declares (named relative to it) that do not reject, left in the verdict's."""
    try:
        with Coqtop(args=(*load_flags, "-Q", folder, CHECK_ROOT), limits=limits) as coq:
            reply = coq.send(f"Require {CHECK_ROOT}.Proof.", timeout)
            if reply.error:
                return Verdict(False, f"compiled file does not load: {reply.error}")
            axioms: set[str] = set()
            for name in names:
                reply = coq.send(f"Print Assumptions {CHECK_ROOT}.Proof.{name}.", timeout)
                if reply.error:
                    return Verdict(False, f"no theorem {name}: {reply.error}")
                entries, unsafe = parse_assumptions(reply.output)
                if unsafe:
                    return Verdict(False, f"unsafe: {unsafe[0]}")
                for entry in entries:
                    about = coq.send(f"About {entry}.", timeout)
                    full = re.search(r"Expands to:\s+\w+\s+(\S+)", about.output)
                    axioms.add(full.group(1) if full else entry)
            own = sorted(a for a in axioms if (a.startswith(CHECK_ROOT + ".") or not a.startswith(LIBRARY_ROOTS))
                         and a.removeprefix(f"{CHECK_ROOT}.Proof.") not in allowed_own)
            if own:
                shown = own[0].removeprefix(f"{CHECK_ROOT}.Proof.")
                reason = f"relies on an assumption the file declares itself: {shown}"
                return Verdict(False, reason, tuple(sorted(axioms)))
            if generic:
                problem = _statement_problem(coq, generic.probes, timeout) or _shadowing_problem(coq, generic, timeout)
                if problem:
                    return Verdict(False, problem, tuple(sorted(axioms)))
    except (CoqtopDied, CoqtopTimeout) as exc:
        return Verdict(False, f"checker failed: {exc}")
    return Verdict(True, "", tuple(sorted(axioms)))


def _statement_problem(coq: Coqtop, probes: list[tuple[str, str]], timeout: float) -> str | None:
    """Why a theorem declared in a section proves something other than its statement as written, or None."""
    for theorem, probe in probes:
        if coq.send(f"Check (@{CHECK_ROOT}.Proof.{theorem} : {CHECK_ROOT}.Proof.{probe}).", timeout).error:
            proved = coq.send(f"Check @{CHECK_ROOT}.Proof.{theorem}.", timeout).output
            proved = " ".join(proved.split(":", 1)[-1].split())[:200]
            return (f"{theorem} is declared in a section and uses its variables or hypotheses, so it proves "
                    f"'{proved}', not its statement as written (state it outside the section)")
    return None


def _shadowing_problem(coq: Coqtop, generic: GenericChecks, timeout: float) -> str | None:
    """Why a name the file defines changes what standard text means (`Local Definition ln x := 0`), or None.

    The names are the compiled file's (Search lists everything it defines, constructors and fields included)
    and those only its text shows. With the file's imports replayed, and the file itself not imported, a name
    that Coq already resolves to a library object would be shadowed by the file's definition."""
    coq.send('Remove Search Blacklist "Private_" "_subproof" "_subterm".', timeout)  # list every name
    reply = coq.send(f"Search (_ : _) inside {CHECK_ROOT}.Proof.", timeout)
    if reply.error:
        return f"cannot check which names the file defines: {reply.error}"
    compiled = [m.group(1) for m in re.finditer(r"^(\S+?):(?:\s|$)", reply.output, re.M)]
    defined = [_file_relative(name) for name in compiled] + generic.text_only_names
    for command in generic.imports:
        coq.send(command, timeout)  # one the file itself could not load fails here too: nothing to see then
    for name in dict.fromkeys(suffix for name in defined for suffix in _suffixes(name)):
        if STATED_PREFIX in name:
            continue
        reply = coq.send(f"Locate {name}.", timeout)
        if reply.error:
            return f"cannot check whether the file redefines the standard name '{name}': {reply.error}"
        library = _visible_library_object(reply.output)
        if library:
            return f"the file redefines the standard name '{name}' (already {library})"
    return None


def _file_relative(name: str) -> str:
    """A name Search printed for the compiled file (`Proof.Z.of_nat`), relative to the file (`Z.of_nat`)."""
    for prefix in (f"{CHECK_ROOT}.Proof.", "Proof."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _suffixes(name: str) -> list[str]:
    """`Z.of_nat` is reached as `Z.of_nat`, and as `of_nat` inside its module: each can shadow a library name."""
    parts = name.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def _visible_library_object(locate_output: str) -> str | None:
    """From `Locate NAME`'s answer, the library object NAME denotes as it stands, or None. Coq lists every object
    with that name and says of those the name does not reach which longer name to use; tactics and modules do
    not change what a statement means."""
    if locate_output.startswith("No object"):
        return None
    for entry in re.split(r"\n(?=\S)", locate_output):
        m = re.match(r"(\w+(?: Type)?) (\S+)", entry)
        if not m or m.group(1) in ("Ltac", "Ltac2", "Module", "Module Type") or "shorter name" in entry:
            continue
        if not m.group(2).startswith(CHECK_ROOT + ".") and m.group(2) not in _MEANINGLESS_LIBRARY_NAMES:
            return m.group(2)
    return None


def parse_assumptions(output: str) -> tuple[list[str], list[str]]:
    """Axiom names, and lines that report unsafe checking (unguarded fixpoints, collapsed universes...). The
    variables of a section still open (asked inside it, as in a functor) are left out: closing the section makes
    them the lemma's own hypotheses, as the file states it, not assumptions of the proof."""
    entries, unsafe = [], []
    heading = ""
    for line in output.splitlines():
        if line.strip() == "Closed under the global context":
            continue  # Coq's whole answer when there is nothing; never a substring test: an axiom's type can say it
        if re.fullmatch(r"[A-Z][\w ]*:", line):
            heading = line  # a section title like "Axioms:"
            continue
        # A continuation of a type (indented, or `: T` under a name printed alone), or a section's variable
        if not line or line[0].isspace() or line.startswith(":") or line.startswith("Fetching opaque") \
                or heading == "Section Variables:":
            continue
        if re.search(r"\b(unsafe|assumed|type.in.type)\b", line):
            unsafe.append(line.strip())
        else:  # "name : type", or "name" alone when the type wraps onto the next lines
            entries.append(line.split()[0])
    return entries, unsafe
