"""Splitting Coq text into sentences, and telling a tactic sentence from a vernacular command."""
from __future__ import annotations

import re
from functools import lru_cache

_BULLET = re.compile(r"(-+|\++|\*+|\{|\})")


def split_sentences(text: str) -> list[str]:
    """Split Coq source into sentences: dot-terminated commands, bullets and braces.

    Comments and strings are kept inside their sentence; a '.' ends a sentence only when followed by
    whitespace or the end of the text (so `Nat.add` and `..` do not).
    """
    sentences: list[str] = []
    i, n = 0, len(text)
    start = 0
    depth = 0  # comment nesting
    in_string = False
    at_start = True  # no non-blank, non-comment character yet in this sentence
    while i < n:
        c = text[i]
        if in_string:
            if c == '"':
                in_string = False
            i += 1
            continue
        if text.startswith("(*", i):
            depth += 1
            i += 2
            continue
        if depth:
            if c == '"':  # Coq lexes strings inside comments: a "*)" in one does not close the comment
                i = _string_end(text, i)
            elif text.startswith("*)", i):
                depth -= 1
                i += 2
            else:
                i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if at_start:
            m = _BULLET.match(text, i)
            # A bullet/brace is a sentence of its own, but `{|` opens a record and `-1` is a number.
            if m and not text.startswith("{|", i) and not (c == "-" and i + 1 < n and text[i + 1].isdigit()):
                sentences.append(text[start:m.end()].strip())
                i = start = m.end()
                continue
            at_start = False
        if c == '"':
            in_string = True
        elif c == "." and (i + 1 == n or text[i + 1].isspace()) and not (i > 0 and text[i - 1] == "."):
            sentences.append(text[start:i + 1].strip())
            start = i + 1
            at_start = True
        i += 1
    rest = text[start:].strip()
    if rest and not _only_comments(rest):
        sentences.append(rest)  # unterminated: the caller decides
    return [s for s in sentences if s and not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return not strip_comments(text).strip()


def _string_end(text: str, i: int) -> int:
    """Index just past the string opening at text[i] (a doubled quote is two adjacent strings here)."""
    j = text.find('"', i + 1)
    return len(text) if j < 0 else j + 1


def strip_comments(text: str) -> str:
    """Comments removed the way Coq's lexer reads them: strings are kept whole, in code and in comments."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text[i] == '"':
            end = _string_end(text, i)
            if not depth:
                out.append(text[i:end])
            i = end
        elif text.startswith("(*", i):
            depth += 1
            i += 2
        elif depth and text.startswith("*)", i):
            depth -= 1
            i += 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def normalize(text: str) -> str:
    """Comments dropped and whitespace collapsed: what 'the same text' means for statements."""
    return " ".join(strip_comments(text).split())


def is_bullet(sentence: str) -> bool:
    return bool(_BULLET.fullmatch(sentence.strip()))


# Tactics that leave a hole instead of a proof.
_CHEATING_TACTICS = {"admit", "give_up"}
_SELECTOR = re.compile(r"^(\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*|all|par|\[\s*\w+\s*\]|!)\s*:\s*")


def tactic_problem(sentence: str) -> str | None:
    """Why `sentence` is not acceptable as one proof step, or None if it is a tactic.

    Vernacular commands (Qed, Admitted, Abort, Axiom, Require, Set/Unset, Lemma, Ltac...) all start with
    a capital letter; tactics do not. That rule refuses anything that ends, aborts or leaves the proof,
    or declares things.
    """
    s = normalize(sentence)
    if not s:
        return "empty tactic"
    if is_bullet(s):
        return None
    if not s.endswith("."):
        return "a tactic must end with '.'"
    body = _SELECTOR.sub("", s)
    body = re.sub(r"^\{\s*", "", body)  # `1: {` ends a sentence for Coq: what follows is a sentence of its own
    word = re.match(r"[#\w']*", body).group(0)
    if re.match(r"[A-Z][\w']*\.[A-Za-z_]", body):  # a qualified tactic name (`Z.div_mod_to_equations`)
        word = re.match(r"[\w'.]*", body).group(0)
    elif body.startswith("#[") or (word[:1].isupper()) or not re.match(r"[a-z_(\[]", body):
        return f"not a tactic: '{word or body[:10]}' is a command"
    if word in _CHEATING_TACTICS or re.search(r"(?<![\w'.])(admit|give_up)(?![\w'])", body):
        return f"'{word if word in _CHEATING_TACTICS else 'admit'}' leaves the goal unproved"
    return None


@lru_cache(maxsize=65536)  # the search proposes the same automation tactics at every node
def as_single_tactic(text: str) -> tuple[str | None, str | None]:
    """(sentence, None) if `text` is exactly one acceptable proof step (a missing final '.' is added)."""
    text = text.strip()
    if not text:
        return None, "empty tactic"
    sentences = split_sentences(text)
    if len(sentences) == 1 and not is_bullet(sentences[0]) and not sentences[0].endswith("."):
        sentences = [sentences[0] + "."]
    if len(sentences) != 1:
        return None, f"not a single sentence ({len(sentences)} sentences)"
    problem = tactic_problem(sentences[0])
    return (None, problem) if problem else (sentences[0], None)


# ---- vernacular an editor's file may hold ----------------------------------------------------------------------

# Commands that reach outside Coq's own state, with why; they get these reasons, anything else unlisted a generic one.
_OUTSIDE_WORLD = {
    "Redirect": "writes its output to a file",
    "Extraction": "writes files",
    "Separate": "writes files",
    "Recursive": "writes files",
    "Cd": "changes coqtop's working directory",
    "Load": "runs another file",
    "Drop": "leaves Coq's toplevel",
    "Quit": "stops coqtop",
    "Write": "writes a file",
    "Restore": "reads a file",
    "Back": "rewinds the document the checker tracks",
    "BackTo": "rewinds the document the checker tracks",
    "Reset": "rewinds the document the checker tracks",
    "Undo": "rewinds the document the checker tracks",
    "Restart": "rewinds the document the checker tracks",
}
# First words of the commands allowed: imports, sections and modules, declarations, proofs and queries.
_ALLOWED_COMMANDS = frozenset("""
    Require Import Export Module Section End Include
    Definition Let Fixpoint CoFixpoint Function Inductive CoInductive Variant Record Structure Class Instance
    Existing Coercion Identity Canonical Scheme Combined Derive Notation Infix Reserved Tactic Ltac Arguments
    Implicit Generalizable Delimit Bind Undelimit Opaque Transparent Strategy Typeclasses Hint
    Variable Variables Hypothesis Hypotheses Context Parameter Parameters Axiom Axioms Conjecture Conjectures
    Universe Universes Constraint Obligation Next Solve Obligations
    Theorem Lemma Fact Remark Corollary Proposition Property Example Goal Proof Qed Defined Save Admitted Abort
    Focus Unfocus Unfocused Show Guarded
    Check Compute Eval Print About Search SearchPattern SearchRewrite SearchHead Locate Test
""".split())
# Commands allowed only with one of these second words (`Add LoadPath`, `Declare ML Module` and the like are not).
_ALLOWED_SECOND_WORDS = {
    "Open": {"Scope"},
    "Close": {"Scope"},
    "Create": {"HintDb"},
    "Remove": {"Hints"},
    "Add": {"Parametric", "Morphism", "Relation", "Setoid", "Ring", "Field"},
    "Declare": {"Scope", "Custom", "Instance", "Reduction", "Left", "Right", "Equivalent"},
}
# Options `Set`/`Unset` may change: printing, implicit arguments and other ways of reading and elaborating terms.
_ALLOWED_OPTIONS = (
    "Printing", "Implicit Arguments", "Strict Implicit", "Strongly Strict Implicit", "Contextual Implicit",
    "Reversible Pattern Implicit", "Maximal Implicit Insertion", "Asymmetric Patterns", "Nested Proofs Allowed",
    "Default Goal Selector", "Bullet Behavior", "Default Proof Using", "Suggest Proof Using", "Universe Polymorphism",
    "Polymorphic Inductive Cumulativity", "Primitive Projections", "Warnings", "Keyed Unification",
    "Regular Subst Tactic", "Structural Injection", "Injection On Proofs", "Mangle Names", "Default Timeout",
    "Hyps Limit", "Firstorder Depth", "Typeclasses Depth", "Loose Hint Behavior", "Program Mode",
    "Uniform Inductive Parameters", "Auto Template Polymorphism", "Elimination Schemes", "Case Analysis Schemes",
    "Decidable Equality Schemes", "Boolean Equality Schemes", "Rewriting Schemes", "Nonrecursive Elimination Schemes",
    "Search Output Name Only", "Fast Name Printing", "Transparent Obligations", "Shrink Obligations", "Info Auto",
    "Info Eauto", "Info Trivial",
)
# What may stand in front of a command and is peeled off before reading it: attributes, locality words, and the
# wrappers that run the command inside them (so `Time Redirect ...` is read as `Redirect ...`).
_IN_FRONT = re.compile(
    r"(#\[[^\[\]]*\]|(Local|Global|Polymorphic|Monomorphic|Cumulative|NonCumulative|Private|Program|Time|Fail|Succeed"
    r"|Instructions)\b|Timeout\s+\d+\b|(Export|Import)\s+(?=(Set|Unset)\b)|[-+*]+(?=\s)|\{)\s*"
)
_STRING = re.compile(r'"[^"]*"')


def vernacular_problem(sentence: str) -> str | None:
    """Why `sentence` may not run in a file sent by an editor, or None if it may.

    A pure function over one sentence (as `split_sentences` gives; comments are stripped here). Allowed, and nothing
    else: tactics, bullets and braces; imports (`Require`, `Import`, `From ... Require`); sections and modules (not
    `Declare Module`); declarations (`Definition`, `Inductive`, `Lemma`, `Notation`, `Ltac`, `Hint`, ...); proof
    commands (`Proof`, `Qed`, ...); queries (`Check`, `Compute`, `Print`, `Search`, ...); scopes; and `Set`/`Unset`
    of the options in `_ALLOWED_OPTIONS`. Attributes, locality words and the `Time`/`Timeout`/`Fail`/`Succeed`
    wrappers in front are read through. So everything that reaches outside Coq is refused (`Redirect`,
    `Extraction`, `Cd`, `Load`, `Add LoadPath`, `Declare ML Module`, `Drop`, ...), as are commands that rewind
    coqtop's document. The reason is one line naming the command. It says nothing about soundness (axioms are
    allowed): that is the verifier's job.
    """
    code = _STRING.sub('""', normalize(sentence))  # a string's text is no command
    if not code or is_bullet(code):
        return None
    # split_sentences does not end a sentence at `x.. ` (a `..` after a word); coqtop might, so refuse it.
    for end in re.finditer(r"\.(?=\s)", code):
        if not re.search(r"(^|[\s(])\.\.$", code[:end.end()]):
            return "holds more than one sentence"
    rest = code
    while True:
        peeled = _SELECTOR.sub("", _IN_FRONT.sub("", rest, count=1), count=1)
        if peeled == rest:
            break
        rest = peeled
    if not rest or is_bullet(rest):
        return None
    if re.match(r"[a-z_(\[]", rest) or re.match(r"[A-Z][\w']*\.[A-Za-z_]", rest):
        return None  # a tactic (or a qualified tactic name): tactics do not reach outside Coq
    words = re.findall(r"[^\s.]+", rest)
    first = words[0] if words else rest[:10]
    second = words[1] if len(words) > 1 else ""
    named = " ".join(re.match(r"([A-Z][\w']*\s?){1,3}", rest).group(0).split()) if first[:1].isupper() else first
    if first in _OUTSIDE_WORLD:
        return f"'{named}' is not allowed: it {_OUTSIDE_WORLD[first]}"
    if first in ("Require", "From", "Import", "Export") and '"' in rest:
        return f"'{first}' of a file path is not allowed"
    if first in ("Set", "Unset"):
        option = " ".join(words[1:])
        if any(option == o or option.startswith(o + " ") for o in _ALLOWED_OPTIONS):
            return None
        return f"'{first} {option}' is not allowed (only printing, implicit-argument and similar options are)"
    if first == "From" and len(words) > 2 and words[2] == "Require":
        return None
    if first == "Locate" and second in ("File", "Library"):
        return f"'Locate {second}' is not allowed: it looks at files"
    if first in _ALLOWED_COMMANDS or second in _ALLOWED_SECOND_WORDS.get(first, ()):
        return None
    return f"'{named}' is not allowed (only imports, declarations, proofs, queries, scopes and printing options are)"
