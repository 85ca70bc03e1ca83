"""Sound verification of a Rocq proof file: what it may say (its shape, no cheats), then coqc and `Print Assumptions`
(coq_env.assumptions) in fresh sandboxed processes."""
from __future__ import annotations

import re
import time
from pathlib import Path

from coq_env.assumptions import STATED_PREFIX, GenericChecks, assumptions_verdict, compile_checked_file
from coq_env.coqtop import SandboxLimits
from coq_env.hammer import TACTICS_IMPORT, uses_reconstruction
from coq_env.sentences import normalize, split_sentences, strip_comments, tactic_problem, vernacular_problem
from prover.sandbox import Sandbox, isolated, named_paths
from prover.types import Theorem, Verdict

DECLARATION = re.compile(r"^(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Property|Example)\s+([\w']+)")
_PROOF_END = ("Qed.", "Defined.")
# What Coq accepts in front of a command without changing what the command declares: attributes, locality and
# universe flags, and control commands. A cheat can hide `Axiom` behind any number of them.
_COMMAND_PREFIX = re.compile(
    r'(?:#\[(?:[^\]"]|"[^"]*")*\]|(?:Local|Global|Polymorphic|Monomorphic|Cumulative|NonCumulative|Private|Program|'
    r'Time|Fail|Succeed|Instructions|Timeout\s+\d+|Redirect\s+"[^"]*")(?![\w\']))\s*'
)
# Commands whose mere presence means the file assumes something instead of proving it (prefixes removed).
_ASSUMING = re.compile(
    r"^(Admitted|Abort|Axioms?|Parameters?|Conjectures?|Hypothesis|Hypotheses|Variables?|Context|Declare\s+Module|"
    r"Declare\s+Instance|Unset\s+Guard\s+Checking|Unset\s+Universe\s+Checking|Unset\s+Positivity\s+Checking|"
    r"Set\s+Type\s+In\s+Type|Admit\s+Obligations)\b"
)
_SECTION_VARIABLES = ("Hypothesis", "Hypotheses", "Variable", "Variables", "Context")
_SCOPE_OPEN = re.compile(r"^(Section|Module(?:\s+Type)?)\s+(?:(?:Import|Export)\s+)?([\w']+)(.*)$")
_SCOPE_END = re.compile(r"^End\s+([\w']+)\s*\.$")
# `Module M <: S with Module E := N.` opens M: the `:=` of a `with` constraint on its type is not a module body.
_WITH_CONSTRAINT = re.compile(r"\bwith\s+(?:Module\s+[\w.']+\s*:=\s*[\w.']+|Definition\s+[\w.']+\s*:=\s*(?:\([^()]*\)|[\w.']+))")
# Generic mode: notations that give standard symbols a meaning of the file's own. A symbol token counts as
# standard when it contains one of these (so `=`, `<=`, `=?` and a glued `x=y` all do).
_NOTATION = re.compile(r'^(?:Reserved\s+)?(?:Notation|Infix)\s+"((?:[^"]|"")*)"(.*)$')
_STANDARD_SYMBOL = re.compile(r"[=+\-*/^<>~\\%!,():]|&&|\|\||÷")
_STANDARD_NOTATION_WORDS = ("mod",)  # word-like symbols of standard notations (`x mod y`)
_LITERAL_NOTATION = re.compile(r"^(?:Number|Numeral|String)\s+Notation\b")
_ABBREVIATION = re.compile(r"^Notation\s+([\w']+)[^\"]*?:=")  # `Notation sqrt := ...` shadows a name
_LET = re.compile(r"^Let\s+([\w']+)")  # section-local, so not in the compiled file: found in the text
_IMPORT = re.compile(r"^(?:(?:From\s+[\w.']+\s+)?Require(?:\s+(?:Import|Export))?|Import|Export)(?:\s+[\w.']+)+\s*\.$")
# Library names every file of that library sees but no reader takes for the library's: Reals exports the field
# `f` of its `family` record, and a file's own `Definition f` is the commonest helper there is.


class CannotCheck(Exception):
    """The checker itself could not run (no coqc, unreadable file)."""


# Loaded after the benchmark's own imports, in search and in the checked file alike: miniF2F files
# import only what their statement needs, and without these `lia`/`lra`/`nia` are unknown.
AUTOMATION_IMPORT = "From Coq Require Import Lia Lra Psatz Field Ring."
DEFAULT_TIMEOUT = 300.0  # seconds for one whole check: coqc, then the assumptions' coqtop


def render_proof(theorem: Theorem, tactics: tuple[str, ...], imports: tuple[str, ...] | None = None) -> str:
    """The proof file the backend's search writes and this checker accepts: the benchmark's header, the automation
    import (and CoqHammer's reconstruction tactics where the proof uses them: a hammer's replay), the statement,
    then the tactics between `Proof.` and `Qed.`. `imports`: other import sentences instead of those two."""
    body = "\n".join(f"  {t}" for t in tactics)
    if imports is None:
        imports = (AUTOMATION_IMPORT, *([TACTICS_IMPORT] if uses_reconstruction(tactics) else []))
    return f"{theorem.header}\n{''.join(i + chr(10) for i in imports)}\n{theorem.statement}\nProof.\n{body}\nQed.\n"


class RocqVerifier:
    """The Rocq backend's Verifier (prover.backend): coqc and Print Assumptions in fresh sandboxed processes, for
    the search's final check and `prover check` alike. `load_flags`: a project's -R/-Q/-I flags
    (coq_env.project.CoqProject.flags), for theorems whose header requires the project's libraries."""

    def __init__(self, limits: SandboxLimits = SandboxLimits(), timeout: float = DEFAULT_TIMEOUT,
                 load_flags: tuple[str, ...] = ()):
        self.limits = limits
        self.timeout = timeout
        self.load_flags = tuple(load_flags)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.check_text(render_proof(theorem, tactics), theorem, timeout)

    def check_text(self, text: str, expected: Theorem | None = None, timeout: float | None = None) -> Verdict:
        return check_proof_text(text, expected=expected, extra_header=(AUTOMATION_IMPORT, TACTICS_IMPORT), limits=self.limits,
                                timeout=self.timeout if timeout is None else timeout, load_flags=self.load_flags)


def check_proof_text(
    text: str,
    expected: Theorem | None = None,
    theorem_name: str | None = None,
    extra_header: tuple[str, ...] = (),
    limits: SandboxLimits = SandboxLimits(),
    timeout: float = 300.0,
    load_flags: tuple[str, ...] = (),
) -> Verdict:
    """Accept `text` only if it proves its theorem(s) from the standard library alone.

    With `expected`, the file must be that benchmark theorem: the benchmark's header (optionally followed
    by the automation import), the statement exactly, then `Proof.`, tactics only, and `Qed.`. Without it, each
    theorem's compiled type must be its statement as written (no section hypothesis discharged into it), and no
    notation or definition may give a standard symbol or name a meaning of the file's own.

    `timeout` bounds the whole check: coqc gets it, the assumptions' coqtop what is left (at least a second).
    `load_flags` (-R/-Q/-I) reach both, their folders readable in the sandbox.
    """
    started = time.monotonic()
    sentences = split_sentences(text)
    generic = None
    if expected is not None:
        problem = proof_shape_problem(sentences, expected, extra_header)
        names = [expected.name]
    else:
        scoped = scoped_commands(sentences)
        problem = _generic_problem(sentences, scoped) or _unconfined_problem(sentences)
        names = [theorem_name] if theorem_name else _declared_names(scoped)
        if not names and problem is None:
            problem = "no theorem in the file"
        text, probes = _with_statement_probes(text, sentences, scoped)
        generic = GenericChecks(probes, _imports(scoped), _text_only_names(scoped))
    if problem:
        return Verdict(False, problem)
    # coqc writes only in the sandbox's dir; the checking coqtop reads it
    with Sandbox("rocq-check-", readable=named_paths(load_flags)) as box:
        (Path(box.dir) / "Proof.v").write_text(text)
        compiled = compile_checked_file(box, limits, timeout, load_flags)
        if compiled is not None:
            return Verdict(False, compiled)
        left = max(1.0, timeout - (time.monotonic() - started))
        return assumptions_verdict(box.dir, names, limits, left, generic, load_flags)


def _unconfined_problem(sentences: list[str]) -> str | None:
    """Without a sandbox, coqc would run a file's Redirect, Extraction or Cd on the real filesystem: where the
    machine offers no isolation, only the vernacular an editor's file may hold is compiled."""
    if isolated():
        return None
    for sentence in sentences:
        problem = vernacular_problem(sentence)
        if problem:
            return f"refused without a sandbox: {problem}"
    return None


def proof_shape_problem(sentences: list[str], expected: Theorem, extra_header: tuple[str, ...]) -> str | None:
    """Why a file is not `expected`'s header, the `extra_header` sentences, its statement, then `Proof.`, tactics
    only (no `Admitted`, `Axiom`, ...: coq_env.sentences.tactic_problem) and `Qed.`; None if it is."""
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
    outside any section, ...), or None. Attributes and prefixes (`#[local]`, `Polymorphic`, `Time`...) are looked
    past."""
    for i, (command, scopes) in enumerate(scoped_commands(sentences)):
        m = _ASSUMING.match(command)
        if m:
            keyword = " ".join(m.group(1).split())
            if keyword in _SECTION_VARIABLES and any(kind == "Section" for kind, _ in scopes):
                continue  # discharged when the section closes; generic mode compares the theorems' types instead
            return i, keyword
    return None


def _command(sentence: str) -> str:
    """The sentence normalized, with the attributes and prefixes in front of its command removed."""
    s = normalize(sentence)
    while (m := _COMMAND_PREFIX.match(s)) and m.end():
        s = s[m.end():]
    return s


def scoped_commands(sentences: list[str]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each sentence's command (see `_command`) and the sections and modules open around it, outermost first,
    as (kind, name) pairs."""
    open_scopes: list[tuple[str, str]] = []
    scoped = []
    for sentence in sentences:
        command = _command(sentence)
        scoped.append((command, tuple(open_scopes)))
        if m := _SCOPE_OPEN.match(command):
            kind = " ".join(m.group(1).split())
            # `Module M := N.` defines a module without opening one
            if kind == "Section" or ":=" not in _WITH_CONSTRAINT.sub("", m.group(3)):
                open_scopes.append((kind, m.group(2)))
        elif (m := _SCOPE_END.match(command)) and m.group(1) in [name for _, name in open_scopes]:
            while open_scopes.pop()[1] != m.group(1):
                pass
    return scoped


def qualify(scopes: tuple[tuple[str, str], ...], name: str) -> str:
    """`name` as the compiled file's module path reaches it: modules qualify names, sections do not."""
    return ".".join([scope for kind, scope in scopes if kind != "Section"] + [name])


def _generic_problem(sentences: list[str], scoped: list[tuple[str, tuple]]) -> str | None:
    found = first_assumption(sentences)
    if found:
        return f"the file uses '{found[1]}'"
    for sentence in sentences:
        if re.search(r"(?<![\w'.])(admit|give_up)(?![\w'])", strip_comments(sentence)):
            return "the proof uses 'admit'"
    for command, _ in scoped:
        problem = _notation_problem(command)
        if problem:
            return problem
    return None


def _notation_problem(command: str) -> str | None:
    """Why a notation command changes what standard text means, or None. The statement as written must read
    as it would without the file: `Notation "x = y" := True` would make `1 = 2` provable."""
    if m := _LITERAL_NOTATION.match(command):
        return f"the file changes how numbers or strings read ({' '.join(m.group(0).split())})"
    m = _NOTATION.match(command)
    if not m:
        return None
    for token, is_symbol in _notation_terminals(m.group(1).replace('""', '"'), m.group(2)):
        if (is_symbol and _STANDARD_SYMBOL.search(token)) or token in _STANDARD_NOTATION_WORDS:
            return f"the file gives the standard symbol '{token}' a meaning of its own (notation \"{m.group(1)}\")"
    return None


def _notation_terminals(notation: str, rest: str) -> list[tuple[str, bool]]:
    """The fixed tokens of a notation string, each with whether it is a symbol (else a word). A bare word is a
    placeholder when the notation's body uses it, as Coq decides; a quoted one is always fixed."""
    terminals = []
    for token in notation.split():
        quoted = len(token) > 2 and token[0] == token[-1] == "'"
        word = token[1:-1] if quoted else token
        is_word = bool(re.fullmatch(r"[^\W\d][\w']*", word))
        if is_word and not quoted and re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", rest):
            continue  # a placeholder, like x and y in "x + y"
        terminals.append((word, not is_word))
    return terminals


def _declared_names(scoped: list[tuple[str, tuple]]) -> list[str]:
    return [qualify(scopes, m.group(1)) for command, scopes in scoped if (m := DECLARATION.match(command))]


def _text_only_names(scoped: list[tuple[str, tuple]]) -> list[str]:
    """Names the file gives a meaning that the compiled file does not list: section `Let`s, abbreviations
    (`Notation sqrt := ...`) and the words of notations (`Notation "'ln' x" := ...`)."""
    names = []
    for command, scopes in scoped:
        if m := _LET.match(command) or _ABBREVIATION.match(command):
            names.append(qualify(scopes, m.group(1)))
        elif m := _NOTATION.match(command):
            names += [word for word, is_symbol in _notation_terminals(m.group(1), m.group(2)) if not is_symbol]
    return names


def _imports(scoped: list[tuple[str, tuple]]) -> list[str]:
    """The file's Require/Import commands: replayed in the checking coqtop, they make visible the library names
    the file's own names could shadow."""
    return [command for command, _ in scoped if _IMPORT.match(command)]


def _with_statement_probes(
    text: str, sentences: list[str], scoped: list[tuple[str, tuple]]
) -> tuple[str, list[tuple[str, str]]]:
    """The file with a probe before the `End` of each section that declares theorems, and the (theorem, probe)
    qualified names. A probe is a definition holding the theorem's type as its section states it: when the
    section closes, a theorem that used the section's variables or hypotheses gains them in its type (so
    `Hypothesis cheat : False` turns `1 = 2` into `False -> 1 = 2`), while the probe stays the statement as
    written, or becomes a function if the statement itself names a section variable."""
    inserts: dict[int, list[str]] = {}
    probes = []
    for i, (command, scopes) in enumerate(scoped):
        m = DECLARATION.match(command)
        if not m or not scopes or scopes[-1][0] != "Section":  # modules cannot sit inside sections: innermost it is
            continue
        end = next((j for j in range(i + 1, len(scoped))
                    if scoped[j][1] == scopes and _SCOPE_END.match(scoped[j][0])), None)
        if end is None:
            continue  # the section is never closed: the file does not compile
        name = m.group(1)
        inserts.setdefault(end, []).append(f"Definition {STATED_PREFIX}{name} := ltac:(let T := type of @{name} in exact T).")
        probes.append((qualify(scopes, name), qualify(scopes, STATED_PREFIX + name)))
    if not inserts:
        return text, probes
    pieces, copied, cursor = [], 0, 0
    for j, sentence in enumerate(sentences):
        at = text.index(sentence, cursor)  # each sentence is a stripped slice of the text, in order
        cursor = at + len(sentence)
        if j in inserts:
            pieces += [text[copied:at], "\n".join(inserts[j]), "\n"]
            copied = at
    return "".join(pieces) + text[copied:], probes
