"""The "stdlib holes" benchmark: copies of the standard library's held-out files with a seeded choice of proofs
replaced by `Admitted.`, as a project `prover prove` can work on, and a manifest of the proofs taken out.

The held-out files are those `prover extract --source stdlib` puts in its valid split (a hash of the file's path),
so no proofstep row of theirs is in the training data. A proof is taken out only when it ends in `Qed.`, is short
(at most `max_sentences` tactic sentences) and its lemma's name never occurs later in the file: nothing after it
depends on how it was proved, so the copy compiles with `Admitted.` in its place.

Rule for Requires: copies keep them as written. Their logical name (`-Q theories StdlibHoles`) is reachable only by
qualified names, so every `Require` still loads Coq's own compiled originals, never a sibling copy, and each copy
compiles on its own against the installed standard library. Each copy is compiled by coqc when it is built; a
file coqc rejects is left out and the summary says why.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from coq_env.coqtop import find_executable
# The lemmas taken out must be exactly what find_holes will see once their proof is `Admitted.`: they are read
# with its sentence reading and verify's declarations and scopes (the same pairing holes.py makes).
from coq_env.holes import _PROOF_OPENING, ADMITTED, _located_sentences, _proof_end, find_holes
from coq_env.project import PROJECT_FILE, read_project_file
from coq_env.sentences import normalize, strip_comments
from coq_env.sources import SourceFile, source_files, stdlib_root
from coq_env.verify import DECLARATION, qualify, scoped_commands
from coq_env.writeback import compile_problem
from prover.jsonl import write_atomic
from prover.proofsteps import ExtractOptions, split_of

LOGICAL_NAME = "StdlibHoles"  # the copies' library: not `Coq`, so no copy can shadow the original it came from
THEORIES = "theories"
MANIFEST = "manifest.jsonl"
PROVENANCE = "provenance.json"
MAX_SENTENCES = 10  # a proof longer than this is not a plausible target for a search of a few dozen expansions
_PROOF_USING = re.compile(r"^Proof\s+using\b")


@dataclass(frozen=True)
class TakenProof:
    """A lemma whose proof can be taken out: where the proof is in the file, and what it was."""

    lemma: str  # qualified as the compiled file names it (modules qualify, sections do not)
    keep_end: int  # text[:keep_end] stays: through the statement and its `Proof ...` opening, if any
    end: int  # end of the `Qed.` sentence: text[keep_end:end] becomes `Admitted.`
    proof: str  # the original proof, from after the statement through `Qed.`, as written
    sentences: int  # tactic sentences between the opening and `Qed.`


def removable_proofs(text: str, max_sentences: int = MAX_SENTENCES, in_sections: bool = True) -> list[TakenProof]:
    """The proofs of `text` that can become `Admitted.` with the file still compiling: lemmas (Theorem, Lemma,
    ...) outside any `Module Type`, ending in `Qed.`, with at most `max_sentences` steps, whose name never occurs
    in the code after the proof. Without `in_sections`, only lemmas outside sections or opened by `Proof using`."""
    located = _located_sentences(text)
    scoped = scoped_commands([sentence for sentence, _, _ in located])
    found = []
    for i, (command, scopes) in enumerate(scoped):
        declared = DECLARATION.match(command)
        end = _proof_end(scoped, i + 1) if declared else None
        if end is None or normalize(scoped[end][0]) != "Qed." or any(k == "Module Type" for k, _ in scopes):
            continue
        body = located[i + 1:end]
        opening = 1 if body and _PROOF_OPENING.match(normalize(body[0][0])) else 0
        # In a section, an admitted lemma keeps section variables its proof did not use: its type changes, which
        # a module's signature check can refuse. `Proof using` says which to keep.
        if not in_sections and any(k == "Section" for k, _ in scopes) and not (
                opening and _PROOF_USING.match(normalize(body[0][0]))):
            continue
        steps = len(body) - opening
        qed_end = located[end][2]
        name = declared.group(1)
        if steps > max_sentences or re.search(rf"(?<![\w']){re.escape(name)}(?![\w'])", strip_comments(text[qed_end:])):
            continue
        keep_end = body[0][2] if opening else located[i][2]
        found.append(TakenProof(lemma=qualify(scopes, name), keep_end=keep_end, end=qed_end,
                                proof=text[located[i][2]:qed_end].strip(), sentences=steps))
    return found


def take_out(text: str, chosen: Sequence[TakenProof]) -> str:
    """`text` with each chosen proof (after its opening) replaced by `Admitted.` on a line of its own, indented
    as the line it follows."""
    for taken in sorted(chosen, key=lambda t: t.end, reverse=True):  # from the end: earlier spans stay put
        line_start = text.rfind("\n", 0, taken.keep_end) + 1
        indent = re.match(r"[ \t]*", text[line_start:]).group(0)
        text = text[:taken.keep_end] + f"\n{indent}Admitted." + text[taken.end:]
    return text


def heldout_stdlib_files(split: str = "valid") -> list[SourceFile]:
    """The installed standard library's files that `prover extract --source stdlib` holds out in `split` (with
    its default fractions), in path order."""
    options = ExtractOptions()
    return [file for file in source_files("stdlib")
            if split_of(file.relpath, options.valid_fraction, options.test_fraction) == split]


def build_stdlib_holes(out: Path, files: int, holes_per_file: int, seed: int, max_sentences: int = MAX_SENTENCES,
                       *, sources: Sequence[SourceFile] | None = None, compile_timeout: float = 300.0) -> dict:
    """Write the benchmark to `out` (which must be empty or absent): `_CoqProject`, the copies under
    `theories/` (their paths in the library kept), `manifest.jsonl` (one row per hole: file, lemma, line,
    statement line, original proof) and `provenance.json`. Up to `files` files of `sources` (default: the held-out
    standard library files) with at least one removable proof, in a seeded order, each with up to `holes_per_file`
    holes, seeded per file; the same arguments give the same bytes. Returns the summary. Raises ValueError on bad
    arguments or a non-empty `out`."""
    if files < 1 or holes_per_file < 1 or max_sentences < 1:
        raise ValueError("--files, --holes-per-file and --max-sentences must be at least 1")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} is not an empty folder: choose a new --out")
    chosen_from = "the valid split of `prover extract --source stdlib`" if sources is None else "files given"
    sources = list(heldout_stdlib_files() if sources is None else sources)
    order = sorted(sources, key=lambda f: f.relpath)
    random.Random(f"stdlib-holes:{seed}").shuffle(order)
    (out / THEORIES).mkdir(parents=True, exist_ok=True)
    (out / PROJECT_FILE).write_text(f"-Q {THEORIES} {LOGICAL_NAME}\n")
    project = read_project_file(out / PROJECT_FILE)
    rows, skipped = [], {}
    for source in order:
        if len({row["file"] for row in rows}) == files:
            break
        made = _compiling_copy(source, project, holes_per_file, seed, max_sentences, compile_timeout)
        if isinstance(made, str):
            skipped[source.relpath] = made
            continue
        text, file_rows = made
        target = out / THEORIES / source.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        rows += file_rows
    if not rows:
        shutil.rmtree(out / THEORIES)
        (out / PROJECT_FILE).unlink()
        raise ValueError(f"no file gave a hole ({'; '.join(f'{k}: {v}' for k, v in skipped.items()) or 'no files'})")
    rows.sort(key=lambda row: (row["file"], row["line"]))
    write_atomic(out / MANIFEST, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    provenance = {**stdlib_provenance(), "seed": seed, "holes_per_file": holes_per_file,
                  "max_sentences": max_sentences, "files_from": chosen_from,
                  "left_out": skipped}
    write_atomic(out / PROVENANCE, json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return {"out": str(out), "files": len({row["file"] for row in rows}), "holes": len(rows),
            "skipped": skipped, "theories": str(out / THEORIES)}


def _compiling_copy(source: SourceFile, project, holes_per_file: int, seed: int, max_sentences: int,
                    timeout: float) -> tuple[str, list] | str:
    """A holed copy of the file that coqc accepts and its manifest rows, or why there is none. When the copy
    coqc rejects had holes inside sections, a second choice leaves those out."""
    made = None
    for in_sections in (True, False):
        made = _holed_copy(source, holes_per_file, seed, max_sentences, in_sections)
        if isinstance(made, str):
            return made
        problem = compile_problem(made[0], Path(source.relpath).name, project, timeout=timeout)
        if not problem:
            return made
        line, message = problem
        made = f"coqc rejects the copy{f' at line {line}' if line else ''}: {message}"
    return made


def _holed_copy(source: SourceFile, holes_per_file: int, seed: int, max_sentences: int,
                in_sections: bool) -> tuple[str, list] | str:
    """The file's text with a seeded choice of its removable proofs taken out and the manifest rows, or why not."""
    try:
        text = source.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read: {exc}"
    if find_holes(text):
        return "already has holes of its own"
    candidates = removable_proofs(text, max_sentences, in_sections)
    if not candidates:
        return f"no lemma ending in Qed with at most {max_sentences} steps and unused later"
    rng = random.Random(f"stdlib-holes:{seed}:{source.relpath}")
    chosen = sorted(rng.sample(candidates, min(holes_per_file, len(candidates))), key=lambda t: t.end)
    holed = take_out(text, chosen)
    holes = {hole.label: hole for hole in find_holes(holed)}
    file = f"{THEORIES}/{source.relpath}"
    rows = []
    for taken in chosen:
        hole = holes.get(taken.lemma)
        if hole is None or hole.kind != ADMITTED or hole.unsupported:  # the reading disagrees: leave the file out
            return f"{taken.lemma}: its Admitted is not read back as a hole"
        rows.append({"file": file, "lemma": taken.lemma, "line": hole.line, "statement_line": hole.statement_line,
                     "statement": hole.statement, "proof": taken.proof, "sentences": taken.sentences,
                     "source": f"stdlib:{source.relpath}"})
    return holed, rows


def stdlib_provenance() -> dict:
    """Where the copied files come from: Coq's standard library, its license, and the installed package."""
    root = stdlib_root()
    coqc = find_executable("coqc")
    provenance = {"source": "The Coq Proof Assistant standard library (theories/)", "license": "LGPL-2.1-only",
                  "license_note": "each copied file keeps its own header naming the license",
                  "path": str(root), "coq_version": _first_line([coqc, "--version"])}
    owner = _first_line(["dpkg-query", "-S", str(root / "Init" / "Prelude.v")])
    if owner and ":" in owner:
        package = owner.split(":", 1)[0].strip()
        provenance.update(package=f"Debian {package}",
                          package_version=_first_line(["dpkg-query", "-W", "-f", "${Version}", package]))
    return provenance


def _first_line(command: list[str]) -> str | None:
    """The first output line of a short query, or None where it cannot run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def manifest_rows(out: Path) -> list[dict]:
    """The manifest of a benchmark folder written by build_stdlib_holes."""
    return [json.loads(line) for line in (Path(out) / MANIFEST).read_text().splitlines() if line.strip()]
