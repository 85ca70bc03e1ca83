"""Sound verification of a Lean 4 proof file: static refusals first, then the whole file plus
`#print axioms` in a fresh REPL process, accepting only the standard axioms.

The static pass reads the file the way Lean's scanner does (nested `/- -/` block comments, `--` line
comments, `«»` identifiers) and refuses what a live check alone cannot see: meta-level code that could
change the environment behind the kernel (`run_tac`, `elab`, `#eval`, ...), syntax that could make the
file say something other than what Lean checks (`notation`, `macro`, ...), switched-off checking
(`debug.skipKernelTC`), unverified code (`implemented_by`, `extern`, native evaluation), and, against a
benchmark theorem, any change to the header or statement and anything declared besides the theorem.
String and character literals are refused outright: a proof has no use for them, and they are the one
place where a scanner that disagrees with Lean's could mistake code for a comment.

The live pass (`run_command`: code -> CommandReply from a fresh REPL) refuses any error, any sorry
warning (either quoting Lean has used), and any axiom beyond propext, Classical.choice and Quot.sound,
reading `#print axioms` only from the lines this module appended (a file can print look-alike text).
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence

from lean_env.lexing import CHAR_LITERAL, IDENT_CHAR, block_comment_end
from lean_env.messages import CommandReply, ReplCrashed, ReplError, ReplTimeout
from lean_env.repl import DEFAULT_TIMEOUTS, LeanRepl, default_repl_command, find_project
from prover.errors import one_line
from prover.types import BackendUnavailable, Theorem, Verdict

STANDARD_AXIOMS = ("propext", "Classical.choice", "Quot.sound")
# What native evaluation (native_decide, decide +native, bv_decide) adds; trusted only when asked.
NATIVE_AXIOMS = ("Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler")
NOT_CHECKED_LIVE = "statically clean, but not checked by Lean (no REPL to run it)"
NO_LIVE_CHECK = "statically clean, but cannot check live"

RunCommand = Callable[[str], CommandReply]

# Benchmarks store statements with whatever proof tail their format wants (":= by sorry", ":= by", nothing).
_PROOF_TAIL = re.compile(r"\s*:=\s*(?:by\s*(?:sorry\s*)?)?$")
_AXIOMS_REPORT = re.compile(r"^'(?P<name>.+?)' depends on axioms: \[(?P<axioms>.*)\]\s*$", re.DOTALL)
_NO_AXIOMS_REPORT = re.compile(r"^'(?P<name>.+?)' does not depend on any axioms\s*$", re.DOTALL)
# Errors that mean the Lean project lacks the file's imports: the checker cannot judge, the proof is not at fault.
_MISSING_LIBRARY = re.compile(r"unknown module prefix|object file .* does not exist|unknown package", re.IGNORECASE)


def _word(w: str) -> str:
    """`w` as a whole token, not part of a longer or dotted name."""
    return rf"(?<![\w'!?.]){re.escape(w)}(?![\w'!?])"


def _component(w: str) -> str:
    """`w` as a whole token or as one component of a dotted name (Lean.ofReduceBool, open Lean in ofReduceBool)."""
    return rf"(?<![\w'!?]){re.escape(w)}(?![\w'!?])"


def _any(patterns) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# (pattern, reason) in the order they are tried; the first that matches names the refusal.
_ALWAYS_REFUSED: list[tuple[re.Pattern, str]] = [
    (re.compile(_word("sorry")), "the proof uses `sorry`"),
    (re.compile(_word("admit")), "the proof uses `admit`"),
    (re.compile(_component("sorryAx")), "the proof uses `sorryAx`"),
    (re.compile(_word("stop")), "`stop` abandons the rest of the proof (it is `repeat sorry`)"),
    (re.compile(_word("axiom")), "the file declares an axiom"),
    (re.compile(_word("opaque")), "the file declares an opaque constant"),
    (re.compile(_word("unsafe")), "the file uses `unsafe` code"),
    (re.compile(_word("implemented_by")), "`implemented_by` swaps in code the kernel never checks"),
    (re.compile(_word("extern")), "`extern` binds a constant to native code the kernel never checks"),
    (re.compile(r"(?<![\w'!?.])#exit(?![\w'!?])"), "`#exit` stops Lean before the end of the file"),
    (re.compile(r"(?<![\w'!?.])#guard_msgs(?![\w'!?])"), "`#guard_msgs` swallows Lean's messages (errors, sorry warnings)"),
]
_META_HOOKS = ("run_cmd", "run_tac", "run_elab", "run_meta", "by_elab", "initialize", "builtin_initialize")
_META_REFUSED = [
    (_any([_word(w) for w in _META_HOOKS] + [r"(?<![\w'!?.])#eval!?(?![\w'!?])", r"(?<![\w'!?.])eval%"]),
     "runs meta-level code ({}), which can change the environment behind the kernel's back"),
    (_any(_word(w) for w in (
        "macro", "macro_rules", "syntax", "elab", "elab_rules", "notation", "notation3", "infix", "infixl", "infixr",
        "prefix", "postfix", "declare_syntax_cat", "binder_predicate", "simproc", "dsimproc")),
     "defines syntax or elaborators ({}): the file may not mean what it says"),
    (_any(_component(w) for w in (
        "Elab", "Meta", "TacticM", "MetaM", "CoreM", "TermElabM", "CommandElabM", "MacroM", "Macro", "IO", "EIO",
        "BaseIO", "Environment", "addDecl", "addAndCompile", "modifyEnv", "setEnv", "evalExpr", "evalTactic",
        "unsafeCast", "unsafeIO", "unsafeBaseIO", "unsafeEIO")),
     "meta-programming ({}) in a proof file"),
]
_NATIVE = _any(
    [_word("native_decide"), _word("bv_decide"), r"\+\s*native(?![\w'!?])", r"(?<![\w'!?.])native\s*:=\s*true",
     _component("ofReduceBool"), _component("ofReduceNat"), _component("trustCompiler"),
     _word("reduceBool"), _word("reduceNat"), r"(?<![\w'!?.])Lean\.reduce(?:Bool|Nat)(?![\w'!?])"]
)
_NATIVE_REASON = "uses native evaluation ({}): it trusts the compiler (Lean.ofReduceBool), not the kernel"
_SET_OPTION = re.compile(r"(?<![\w'!?.])set_option\s+([\w.']+)")
# Options that change only resources, messages or elaboration heuristics: the kernel still checks everything.
_ALLOWED_OPTIONS = ("maxHeartbeats", "maxRecDepth", "maxSynthPendingDepth", "synthInstance.", "linter.", "pp.",
                    "trace.", "exponentiation.", "push_neg.", "simprocs", "tactic.hygienic", "autoImplicit",
                    "relaxedAutoImplicit", "backward.", "profiler")
_ATTRIBUTES = re.compile(r"@\[([^\]]*)\]|(?<![\w'!?.])attribute\s*\[([^\]]*)\]")
# Attributes that register code Lean then runs (elaborators, norm_num/positivity extensions, initialisers).
_META_ATTRIBUTES = {"tactic", "command_elab", "term_elab", "macro", "delab", "app_unexpander", "init", "env_linter",
                    "norm_num", "positivity", "simproc", "command_parser", "term_parser", "tactic_parser",
                    "code_action", "hole_code_action", "command_code_action", "tactic_code_action", "widget",
                    "widget_module", "csimp"}
# Commands: none may follow a benchmark theorem's statement (`open ... in` / `set_option ... in` may: they are
# also tactic and term combinators).
_COMMAND_WORDS = (
    "theorem", "lemma", "def", "example", "abbrev", "instance", "structure", "class", "inductive", "coinductive",
    "variable", "universe", "namespace", "section", "end", "export", "attribute", "private", "protected",
    "noncomputable", "partial", "nonrec", "mutual", "deriving", "import", "omit", "include", "alias",
    "irreducible_def", "add_decl_doc", "register_simp_attr",
)
_COMMAND = _any([_word(w) for w in _COMMAND_WORDS] + [r"(?<![\w'!?.])#[A-Za-z_]\w*", r"@\["])
_DECLARATION = re.compile(
    r"(?<![\w'!?.])(?:theorem|lemma|def|abbrev|instance|example|structure|class|inductive)\s+([^\s:({\[⦃]+)?"
)
_NAMED_THEOREM = re.compile(r"(?<![\w'!?.])(?:theorem|lemma)\s+([^\s:({\[⦃]+)")
_SCOPE = re.compile(r"(?<![\w'!?.])(namespace|section|end)(?:\s+([\w.'«»]+))?")


# -- reading the file like Lean's scanner ------------------------------------------------------------
def code_view(text: str) -> tuple[str, str | None]:
    """`text` with every comment blanked (newlines kept, so offsets and lines still match), and the
    reason it cannot be read safely, if any (unterminated comment, a string or character literal).
    After such a problem the code returned ends where reading stopped."""
    out = list(text)
    i, n = 0, len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    def line(at: int) -> int:
        return text.count("\n", 0, at) + 1

    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif text.startswith("/-", i):
            j = block_comment_end(text, i)
            if j is None:
                return "".join(out[:i]), f"unterminated comment starting on line {line(i)}"
            blank(i, j)
            i = j
        elif text[i] == "«":  # an escaped identifier: anything up to », dashes and quotes included
            end = text.find("»", i + 1)
            if end < 0:
                return "".join(out[:i]), f"unterminated «identifier» on line {line(i)}"
            i = end + 1
        elif text[i] == '"':
            return "".join(out[:i]), (
                f"a string literal on line {line(i)}: proof files may not contain strings (they could hide code from this check)"
            )
        elif text[i] == "'" and (i == 0 or not IDENT_CHAR.match(text[i - 1])) and CHAR_LITERAL.match(text, i):
            return "".join(out[:i]), f"a character literal on line {line(i)}: proof files may not contain them"
        else:
            i += 1
    return "".join(out), None


def normalize(code: str) -> str:
    return " ".join(code.split())


def statement_without_proof(statement: str) -> str:
    """The declaration without any proof tail, e.g. "theorem t (x : ℕ) : x = x"."""
    return _PROOF_TAIL.sub("", statement.rstrip())


def render_proof(theorem: Theorem, tactics: Sequence[str]) -> str:
    """The proof file the backend's search writes and this checker accepts: the header, the statement, `:= by`
    and the tactics, indented."""
    header = theorem.header.strip()
    body = "\n".join(textwrap.indent(t, "  ") for t in tactics)
    return (f"{header}\n\n" if header else "") + f"{statement_without_proof(theorem.statement)} := by\n{body}\n"


# -- static checks -------------------------------------------------------------------------------------
def _refusal(code: str, allow_native_decide: bool) -> str | None:
    """Why `code` (comments blanked) is refused whatever it proves, or None."""
    for pattern, reason in _ALWAYS_REFUSED:
        if pattern.search(code):
            return reason
    for m in _SET_OPTION.finditer(code):
        option = m.group(1)
        if option.startswith("debug."):
            return f"`set_option {option}` switches off checking (e.g. the kernel's type check)"
        if not any(option == p or (p.endswith(".") and option.startswith(p)) for p in _ALLOWED_OPTIONS):
            return f"`set_option {option}` is not allowed in a proof (only resource and display options are)"
    if not allow_native_decide:
        m = _NATIVE.search(code)
        if m:
            return _NATIVE_REASON.format(f"`{' '.join(m.group().split())}`")
    for pattern, reason in _META_REFUSED:
        m = pattern.search(code)
        if m:
            return reason.format(f"`{m.group()}`")
    for m in _ATTRIBUTES.finditer(code):
        for entry in (m.group(1) or m.group(2) or "").split(","):
            words = [w for w in entry.split() if w not in ("local", "scoped", "-")]
            name = words[0].lstrip("-") if words else ""
            if name in _META_ATTRIBUTES or name.startswith("builtin_"):
                return f"the attribute `{name}` registers code that Lean runs: not allowed in a proof file"
    return None


def _header_problem(code: str, expected: Theorem) -> tuple[str | None, str]:
    """The file must start with expected.header, unchanged: the problem (or None) and the code after it."""
    header_view, problem = code_view(expected.header)
    problem = problem or code_view(expected.statement)[1]
    if problem:
        return f"the benchmark's own header or statement of {expected.name} cannot be read safely: {problem}", ""
    file_code, header = normalize(code), normalize(header_view)
    if header and not (file_code.startswith(header) and file_code[len(header):len(header) + 1] in ("", " ")):
        return "the file's header differs from the benchmark's (it must start with the benchmark's header, unchanged)", ""
    return None, file_code[len(header):].lstrip()


def _statement_problem(rest: str, expected: Theorem) -> str | None:
    """`rest` (the code after the header) must be the statement, `:=`, and a proof with no commands in it."""
    name = expected.name
    statement = normalize(code_view(statement_without_proof(expected.statement))[0])
    if not rest:
        return f"no statement of {name} after the header"
    if not rest.startswith(statement) or not rest[len(statement):].lstrip().startswith(":="):
        first = _DECLARATION.match(rest)
        if first is None:
            word = rest.split(" ", 1)[0]
            return f"`{word}` between the header and the statement of {name}: nothing may come between them"
        if first.group(1) != name:
            if any(m.group(1) == name for m in _DECLARATION.finditer(rest)):
                return f"the file declares `{first.group(1) or 'an example'}` before {name}: only the benchmark theorem may be declared"
            return f"the file's theorem is `{first.group(1) or 'an example'}`, not {name}"
        return f"the statement of {name} differs from the benchmark's"
    body = rest[len(statement):].lstrip()[2:]
    m = _COMMAND.search(body)
    if m:
        return f"`{m.group().strip()}` after the statement: nothing but the proof of {name} may follow it"
    if not body.strip():
        return f"no proof after `:=` for {name}"
    return None


def _declared_theorems(code: str) -> list[str]:
    """Fully qualified names of the theorems/lemmas a file declares (namespaces followed)."""
    names, scopes = [], []  # scopes: (kind, name parts)
    events = sorted([(m.start(), "scope", m) for m in _SCOPE.finditer(code)] +
                    [(m.start(), "theorem", m) for m in _NAMED_THEOREM.finditer(code)], key=lambda e: e[0])
    for _, kind, m in events:
        if kind == "theorem":
            name = m.group(1)
            if name.startswith("_root_."):
                names.append(name[len("_root_."):])
            else:
                names.append(".".join([p for k, parts in scopes if k == "namespace" for p in parts] + [name]))
        elif m.group(1) in ("namespace", "section"):
            scopes.append((m.group(1), (m.group(2) or "").split(".") if m.group(2) else []))
        elif scopes:  # `end`
            scopes.pop()
    return names


def tactic_problem(tactic: str, *, allow_native_decide: bool = False) -> str | None:
    """Why one tactic is refused before it reaches Lean (the same refusals as a proof file), or None."""
    code, problem = code_view(tactic)
    return problem or _refusal(code, allow_native_decide) or (
        f"`{_COMMAND.search(code).group()}` is a command, not a tactic" if _COMMAND.search(code) else None)


def static_problem(text: str, expected: Theorem | None = None, *, allow_native_decide: bool = False) -> str | None:
    """Why `text` is refused without running Lean, or None when it is statically clean (not yet a proof)."""
    code, problem = code_view(text)
    if problem:  # a refusal in what could be read names the cheat better than the literal that stopped us
        return _refusal(code, allow_native_decide) or problem
    if expected is None:
        problem = _refusal(code, allow_native_decide)
        if problem is None and not _declared_theorems(code):
            problem = "no theorem in the file"
        return problem
    problem, rest = _header_problem(code, expected)
    if problem:
        return problem
    problem = _refusal(rest, allow_native_decide)  # the header is the benchmark's own: trusted
    if problem:
        return problem
    return _statement_problem(rest, expected)


# -- the live check ------------------------------------------------------------------------------------
def _parse_axioms(data: str) -> tuple[str, tuple[str, ...]] | None:
    """(name, axioms) from a `#print axioms` message, or None if it is not one."""
    m = _AXIOMS_REPORT.match(data.strip())
    if m:
        listed = re.sub(r"\.\{[^{}]*\}", "", m.group("axioms"))  # universe annotations, if a version prints them
        return m.group("name"), tuple(a.strip() for a in listed.split(",") if a.strip())
    m = _NO_AXIOMS_REPORT.match(data.strip())
    return (m.group("name"), ()) if m else None


def live_verdict(text: str, names: list[str], run_command: RunCommand, *, allow_native_decide: bool = False) -> Verdict:
    """Run `text` plus `#print axioms` for each of `names` in a fresh REPL and judge the reply."""
    body = text.rstrip()
    first_print_line = body.count("\n") + 3  # 1-based: the file, a blank line, then our commands
    code = body + "\n\n" + "\n".join(f"#print axioms {name}" for name in names) + "\n"
    try:
        reply = run_command(code)
    except ReplTimeout as exc:
        return Verdict(False, f"Lean did not finish checking the file: {one_line(exc, 300)}")
    except (ReplError, ReplCrashed) as exc:
        return Verdict(False, f"checker failed: {one_line(exc, 300)}")
    errors = [m for m in reply.messages if m.is_error]
    if errors and _MISSING_LIBRARY.search(errors[0].data):
        raise BackendUnavailable(f"the Lean project cannot import what the file imports: {one_line(errors[0].data, 300)}")
    if errors:
        where = f" (line {errors[0].pos.line})" if errors[0].pos else ""
        return Verdict(False, f"Lean reports an error{where}: {one_line(errors[0].data, 300)}")
    if reply.sorries or any(m.is_sorry_warning or (m.severity == "warning" and "declaration uses" in m.data
                                                    and "sorry" in m.data) for m in reply.messages):
        return Verdict(False, "Lean warns that a declaration uses sorry")
    reports: dict[str, tuple[str, ...]] = {}
    for message in reply.messages:
        if message.severity != "info" or (message.pos is not None and message.pos.line < first_print_line):
            continue  # only what our own #print commands said counts: the file can print look-alike text
        parsed = _parse_axioms(message.data)
        if parsed is None:
            continue
        index = None if message.pos is None else message.pos.line - first_print_line
        if parsed[0] in names:
            reports[parsed[0]] = parsed[1]
        elif index is not None and 0 <= index < len(names):  # printed under another spelling of the name
            reports[names[index]] = parsed[1]
    missing = [n for n in names if n not in reports]
    if missing:
        return Verdict(False, f"Lean did not report the axioms of {missing[0]}")
    axioms = tuple(sorted({a for used in reports.values() for a in used}))
    allowed = set(STANDARD_AXIOMS) | (set(NATIVE_AXIOMS) if allow_native_decide else set())
    if "sorryAx" in axioms:
        return Verdict(False, "the proof relies on sorryAx (a sorry)", axioms)
    extra = [a for a in axioms if a not in allowed]
    if extra:
        return Verdict(False, f"the proof relies on {', '.join(extra)}, beyond {', '.join(sorted(allowed))}", axioms)
    return Verdict(True, "", axioms)


def check_proof_text(
    text: str,
    expected: Theorem | None = None,
    *,
    run_command: RunCommand | None = None,
    allow_native_decide: bool = False,
) -> Verdict:
    """Accept `text` only if Lean, run fresh on it, proves its theorem(s) from the standard axioms.

    With `expected`, the file must be the benchmark's header, its statement unchanged, `:=` and a proof,
    and nothing else. Without `run_command` only the static checks run, and a clean file is still not
    accepted: Verdict(False, NOT_CHECKED_LIVE).
    """
    problem = static_problem(text, expected, allow_native_decide=allow_native_decide)
    if problem:
        return Verdict(False, problem)
    if run_command is None:
        return Verdict(False, NOT_CHECKED_LIVE)
    names = [expected.name] if expected is not None else _declared_theorems(code_view(text)[0])
    return live_verdict(text, names, run_command, allow_native_decide=allow_native_decide)


# -- the verifier -------------------------------------------------------------------------------------------
def fresh_repl_runner(timeout: float | None = None, new_repl: Callable[[], LeanRepl] | None = None) -> RunCommand:
    """A run_command that elaborates code in a new REPL process each time (`new_repl()`; default: one in the set-up
    Lean project), within `timeout` seconds. BackendUnavailable (saying what is missing) when there is no project
    or no Lean to run."""
    timeout = DEFAULT_TIMEOUTS.verify if timeout is None else timeout
    if new_repl is None:
        try:
            project = find_project()
            command = default_repl_command(project)  # finds lake, or says it is missing
        except BackendUnavailable as exc:
            raise BackendUnavailable(f"{NO_LIVE_CHECK}: {exc}") from None

        def new_repl() -> LeanRepl:
            return LeanRepl(project, command)

    def run_command(code: str) -> CommandReply:
        with new_repl() as repl:  # a fresh process: nothing earlier can leak into the check
            return repl.command(code, timeout=timeout)

    return run_command


class LeanVerifier:
    """The Lean backend's Verifier (prover.backend): static refusals always; a statically clean file is accepted
    only by Lean itself, with `#print axioms`, in a new REPL process per check (`new_repl`; default: the set-up
    project's, see fresh_repl_runner)."""

    def __init__(self, new_repl: Callable[[], LeanRepl] | None = None, timeout: float | None = None):
        self._new_repl = new_repl
        self.timeout = DEFAULT_TIMEOUTS.verify if timeout is None else timeout

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.check_text(render_proof(theorem, tactics), theorem, timeout)

    def check_text(self, text: str, expected: Theorem | None = None, timeout: float | None = None) -> Verdict:
        limit = self.timeout if timeout is None else timeout

        def run_command(code: str) -> CommandReply:
            # Lean is looked for only once the text passes the static checks: those refuse even without Lean.
            return fresh_repl_runner(limit, self._new_repl)(code)

        return check_proof_text(text, expected, run_command=run_command)
