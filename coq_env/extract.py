"""Proofstep rows from real Coq sources: replay each file's proofs through coqtop and record, before every
tactic, the goals exactly as the search shows them to the model (`RocqBackend`), and the tactic.

    extract_proofsteps("stdlib", "out.jsonl")          # every .v of the installed standard library
    extract_proofsteps("path/to/project", "out.jsonl")  # a folder of .v files (built: Requires need the .vo)

Next to the output: `out.jsonl.files.jsonl`, one row per source file as it finishes (status, counts), and
`out.jsonl.partial`, the rows of those files. A rerun skips the files already logged (pass `fresh=True` to
start over); the final pass (order, split, dedupe, contamination guard) always rebuilds `out.jsonl` from the
partial rows, so an interrupted run loses at most the files in flight.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from coq_env.backend import clean_goals
from coq_env.coqtop import (
    Coqtop,
    CoqtopDied,
    CoqtopTimeout,
    SandboxLimits,
    find_executable,
)
from coq_env.sentences import (
    as_single_tactic,
    is_bullet,
    normalize,
    split_sentences,
    strip_comments,
    tactic_problem,
)
from coq_env.verify import first_assumption
from prover.proofsteps import ProofStep, deduplicate, split_of, write_proofsteps
from prover.sandbox import Sandbox
from prover.types import Theorem

STDLIB = "stdlib"
SENTENCE_TIMEOUT = 10.0
# Loading libraries and re-checking a whole proof at Qed legitimately take longer than one tactic.
SLOW_SENTENCE_FACTOR = 6
FILE_TIMEOUT = 900.0
MAX_TACTIC_CHARS = 300
SPLITS = ("train", "valid", "test")

# A declaration that, when coqtop answers it with goals, opens a proof the search could open too.
_OPENER = re.compile(
    r"^(?:#\[[^\]]*\]\s*)*(?:(?:Local|Global|Polymorphic|Monomorphic)\s+)*"
    r"(?:Lemma|Theorem|Fact|Remark|Corollary|Proposition|Example|Instance|Definition)\s+([\w'][\w'.]*)"
)
_ATTRIBUTES = re.compile(r"^(?:#\[[^\]]*\]\s*)+")
# A held-out theorem is stated the way a benchmark theorem is (what the verifier accepts), at top level.
_THEOREM = re.compile(r"^(?:Theorem|Lemma|Fact|Remark|Corollary|Proposition|Example)\s+[\w']+")
_BLOCK_OPEN = re.compile(r"^(?:Section|Module(?:\s+Type)?)\s+(?!.*:=)")
_BLOCK_END = re.compile(r"^End\s+[\w']+\.$")
_GOALS = re.compile(r"^(?:\d+ goals?|No more goals)\b", re.MULTILINE)
_PROOF_START = re.compile(r"^Proof(?:\s+(?:using|with)\b.*)?\.$")
# `Proof term.` ends a proof too.
_PROOF_END = re.compile(r"^(?:Time\s+)?(Qed|Defined|Save|Admitted|Abort)\b|^Proof\s+(?!using\b|with\b)")
_SLOW = re.compile(r"^(?:Time\s+)?(?:Qed|Defined|Save|Require|From|Declare\s+ML)\b")
_ELLIPSIS = re.compile(r"\.\.\.(?=\s)")
_FOCUS = re.compile(r"(?:\d+|\[\s*[\w']+\s*\])\s*:\s*\{")  # `2: {` focuses on a goal, like a brace


class ExtractError(ValueError):
    """The source cannot be extracted from (no such path, no .v files) or the output belongs to another run."""


# -- sources -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    path: Path
    relpath: str  # relative to the source root, '/'-separated: the split is a hash of it
    label: str  # ProofStep.source: `stdlib:Arith/PeanoNat.v`, or the relative path
    args: tuple[str, ...] = ()  # coqtop flags that make the file's own Requires resolve


@lru_cache(maxsize=1)
def stdlib_root() -> Path:
    """The installed standard library's sources: `coqc -where`/theories."""
    with Sandbox("coqc-where-") as box:
        where = box.run([find_executable("coqc"), "-where"], SandboxLimits(), timeout=60).stdout.strip()
    for root in (Path(where) / "theories", Path(os.environ.get("COQLIB", where)) / "theories"):
        if root.is_dir():
            return root
    raise ExtractError(f"no Coq standard library sources under {where}/theories")


def source_files(source: str | Path) -> list[SourceFile]:
    """The .v files of `source` (`stdlib`, a .v file or a folder), in a fixed order."""
    if str(source) == STDLIB:
        root = stdlib_root()
        files = sorted(root.rglob("*.v"), key=lambda p: p.relative_to(root).as_posix())
        if not files:
            raise ExtractError(f"no .v files under {root}")
        return [_stdlib_file(root, p) for p in files]
    path = Path(source)
    if not path.exists():
        raise ExtractError(f"no such file or folder: {source}")
    if path.is_file():
        if path.suffix != ".v":
            raise ExtractError(f"not a Coq source (.v): {source}")
        root, files = path.parent, [path]
    else:
        root = path
        files = sorted((p for p in path.rglob("*.v") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())
        if not files:
            raise ExtractError(f"no .v files under {source}")
    args, load_path = _project_args(root.resolve())
    result = []
    for p in files:
        rel = p.relative_to(root).as_posix()
        result.append(SourceFile(p.resolve(), rel, rel, args + _top(p.resolve(), load_path)))
    return result


def _stdlib_file(root: Path, path: Path) -> SourceFile:
    rel = path.relative_to(root).as_posix()
    # The prelude's own files are compiled without the prelude they define.
    args = ("-noinit",) if rel.startswith("Init/") else ()
    return SourceFile(path, rel, f"{STDLIB}:{rel}", args + _top(path, [(root, "Coq")]))


def _top(path: Path, load_path: list[tuple[Path, str]]) -> tuple[str, ...]:
    """`-top` with the file's own module name (`Coq.Arith.PeanoNat`): files name their own definitions by
    it, and Program names obligations after it; left out where the name is no Coq identifier."""
    for physical, logical in load_path:
        if path.is_relative_to(physical):
            parts = [*logical.split("."), *path.relative_to(physical).with_suffix("").parts]
            parts = [part for part in parts if part]
            if parts and all(re.fullmatch(r"[A-Za-z_][\w']*", part) for part in parts):
                return ("-top", ".".join(parts))
            return ()
    return ()


def _project_args(root: Path) -> tuple[tuple[str, ...], list[tuple[Path, str]]]:
    """The load path a folder's files were compiled with: its _CoqProject's -R/-Q/-I, else `-Q folder ""`;
    and the (folder, logical prefix) pairs in it."""
    project = root / "_CoqProject"
    args: list[str] = []
    load_path: list[tuple[Path, str]] = []
    if project.is_file():
        words = project.read_text(errors="replace").split()
        i = 0
        while i < len(words):
            flag = words[i]
            if flag in ("-R", "-Q") and i + 2 < len(words):
                physical = (root / words[i + 1]).resolve()
                args += [flag, str(physical), words[i + 2]]
                load_path.append((physical, words[i + 2]))
                i += 3
            elif flag == "-I" and i + 1 < len(words):
                args += [flag, str((root / words[i + 1]).resolve())]
                i += 2
            else:
                i += 1
    if not load_path:
        args += ["-Q", str(root), ""]
        load_path.append((root, ""))
    # The innermost folder names a file's module when mappings nest.
    load_path.sort(key=lambda pair: len(pair[0].parts), reverse=True)
    return tuple(args), load_path


def replay_sentences(text: str) -> list[str]:
    """The sentences coqtop is sent for a file: comments dropped, whitespace collapsed, unterminated tail dropped."""
    out = []
    for sentence in split_sentences(strip_comments(text)):
        for part in _resplit(sentence):
            part = " ".join(part.split())
            if part.endswith(".") or is_bullet(part) or _FOCUS.fullmatch(part):
                out.append(part)
    return out


def _resplit(sentence: str) -> list[str]:
    """Coq sentences that split_sentences reads as part of the next one: `2:{` (focus on a goal) and a tactic
    ended by `...` (`Proof with`). Two sentences sent as one make coqtop answer twice, and every later reply
    would belong to the sentence before it. What follows is split again: it may start with a bullet."""
    sentence = sentence.strip()
    cut = None
    if m := _FOCUS.match(sentence):
        cut = m.end()
    else:
        in_string = False
        for i, c in enumerate(sentence):
            if c == '"':
                in_string = not in_string
            elif not in_string and c == "." and _ELLIPSIS.match(sentence, i) and (i == 0 or sentence[i - 1] != "."):
                cut = i + 3
                break
    if cut is None or cut == len(sentence):
        return [sentence] if sentence else []
    return [sentence[:cut], *(part for rest in split_sentences(sentence[cut:]) for part in _resplit(rest))]


# -- replaying one file ------------------------------------------------------------------------------


@dataclass
class Step:
    path: tuple[str, ...]  # the tactics and bullets run since the statement (what RocqBackend would replay)
    state: str  # clean_goals of coqtop's display of that state: RocqBackend's ProofState.goals
    tactic: str


@dataclass
class LemmaRecord:
    name: str
    statement: str
    steps: list[Step] = field(default_factory=list)
    status: str = "open"  # open | kept | admitted | aborted | failed
    error: str | None = None
    commands: bool = False  # vernacular commands inside the proof: the search could not replay its path
    at: int | None = None  # the statement's index in the file's accepted sentences, for a top-level theorem


@dataclass
class FileReplay:
    file: SourceFile
    status: str = "ok"  # ok (replayed to the end) | error | timeout | crash | unreadable
    reason: str = ""  # short, for the histogram
    detail: str = ""
    sentences: int = 0
    sentences_run: int = 0
    lemmas: list[LemmaRecord] = field(default_factory=list)
    seconds: float = 0.0
    script: list[str] = field(default_factory=list)  # the sentences coqtop accepted, in order

    def theorems_record(self, split: str) -> dict | None:
        """The file's replayed top-level theorems as held-out proving tasks: each one's header is every sentence
        coqtop accepted before it (earlier proofs included: later lemmas use them). Only theorems the search
        and the verifier can take as they are: no prelude-less file, nothing assumed before them, and a header
        that reads back into the same sentences."""
        if "-noinit" in self.file.args:
            return None
        limit = _resendable(self.script)
        assumed = first_assumption(self.script[:limit])
        if assumed:
            limit = assumed[0]
        lemmas = [{"name": lemma.name, "statement": self.script[lemma.at], "at": lemma.at} for lemma in self.lemmas
                  if lemma.status == "kept" and lemma.at is not None and lemma.at < limit]
        if not lemmas:
            return None
        return {"source": self.file.label, "file": self.file.relpath, "split": split,
                "sentences": self.script[:max(lemma["at"] for lemma in lemmas) + 1], "lemmas": lemmas}

    def rows(self, split: str) -> tuple[list[ProofStep], Counter]:
        """The rows of the lemmas that replayed whole, and why the other steps of those lemmas were dropped."""
        rows, dropped = [], Counter()
        for lemma in self.lemmas:
            if lemma.status != "kept":
                continue
            for step in lemma.steps:
                problem = step_problem(step)
                if problem:
                    dropped[problem] += 1
                else:
                    rows.append(ProofStep(step.state, step.tactic, lemma.name, self.file.label, split, "rocq"))
        return rows, dropped

    def log_row(self, rows: int, dropped: Counter) -> dict:
        statuses = Counter(lemma.status for lemma in self.lemmas)
        return {
            "source": self.file.label, "file": self.file.relpath, "status": self.status, "reason": self.reason,
            "detail": self.detail[:500], "sentences": self.sentences, "sentences_run": self.sentences_run,
            "lemmas": len(self.lemmas), "lemmas_kept": statuses["kept"], "lemmas_failed": statuses["failed"],
            "lemmas_admitted": statuses["admitted"] + statuses["aborted"], "rows": rows,
            "rows_dropped": dict(dropped), "seconds": round(self.seconds, 2),
        }


def _resendable(script: list[str]) -> int:
    """How many leading sentences of `script` split_sentences reads back from their text: a focus `2:{` or a
    `tac...` is one sentence to the replayer but merges with the next when a header is read."""
    again = split_sentences("\n".join(script))
    count = 0
    for sent, read in zip(script, again):
        if normalize(sent) != normalize(read):
            break
        count += 1
    return count


def step_problem(step: Step) -> str | None:
    """Why a recorded step makes no training row: only states the search shows and tactics it could run."""
    if not step.state.strip():
        return "empty state"
    if len(step.tactic) > MAX_TACTIC_CHARS:
        return "tactic too long"
    if step.tactic.endswith("..."):
        return "needs Proof with"
    sentence, problem = as_single_tactic(step.tactic)
    if problem or sentence != step.tactic:
        return "not a single tactic"
    return None


@dataclass
class _Proof:
    lemma: LemmaRecord | None  # None: a proof we replay but do not record (Goal, Next Obligation, Program)
    current: str | None  # the goals as last displayed; None once a command may have changed them unseen
    path: tuple[str, ...] = ()
    failed: bool = False


class _Replayer:
    def __init__(self, file: SourceFile, sentence_timeout: float, file_timeout: float, limits: SandboxLimits):
        self.result = FileReplay(file)
        self._timeout = sentence_timeout
        self._deadline = time.monotonic() + file_timeout
        self._limits = limits
        self._coq: Coqtop | None = None
        self._proof: _Proof | None = None
        self._blocks = 0  # Sections and Modules open: a theorem inside one is no self-contained task

    def run(self) -> FileReplay:
        result, start = self.result, time.monotonic()
        try:
            sentences = replay_sentences(result.file.path.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            return self._stop("unreadable", "unreadable", str(exc), start)
        result.sentences = len(sentences)
        try:
            with Coqtop(args=result.file.args, limits=self._limits) as self._coq:
                for sentence in sentences:
                    if time.monotonic() > self._deadline:
                        return self._stop("timeout", "file time limit", f"stopped before: {sentence[:80]}", start)
                    if not self._sentence(sentence):
                        break
                    result.sentences_run += 1
        except CoqtopTimeout as exc:
            return self._stop("timeout", "sentence timeout", str(exc), start)
        except CoqtopDied as exc:
            return self._stop("crash", "coqtop died", str(exc), start)
        result.seconds = time.monotonic() - start
        return result

    def _stop(self, status: str, reason: str, detail: str, start: float) -> FileReplay:
        self.result.status, self.result.reason, self.result.detail = status, reason, detail
        self.result.seconds = time.monotonic() - start
        return self.result

    def _send(self, sentence: str):
        timeout = self._timeout * (SLOW_SENTENCE_FACTOR if _SLOW.match(sentence) else 1)
        left = self._deadline - time.monotonic()
        return self._coq.send(sentence, max(1.0, min(timeout, left)))

    def _sentence(self, sentence: str) -> bool:
        """Run one sentence; False when the file cannot go on."""
        if self._proof is not None:
            return self._in_proof(sentence)
        reply = self._send(sentence)
        if reply.error:
            self.result.status, self.result.detail = "error", reply.error
            self.result.reason = f"error at {_ATTRIBUTES.sub('', sentence).split()[0].rstrip('.')}"
            return False
        self.result.script.append(sentence)
        if _BLOCK_OPEN.match(sentence):
            self._blocks += 1
        elif _BLOCK_END.match(sentence) and self._blocks:
            self._blocks -= 1
        if _GOALS.search(reply.output):
            m = _OPENER.match(sentence)
            lemma = LemmaRecord(m.group(1), sentence) if m else None
            if lemma:
                if not self._blocks and _THEOREM.match(sentence):
                    lemma.at = len(self.result.script) - 1
                self.result.lemmas.append(lemma)
            self._proof = _Proof(lemma, clean_goals(reply.output))
        return True

    def _in_proof(self, sentence: str) -> bool:
        proof = self._proof
        end = _PROOF_END.match(sentence)
        if proof.failed:  # skip the rest of a failed proof, then leave it as an axiom so later lemmas can use it
            return self._close("Abort." if sentence.startswith("Abort") else "Admitted.") if end else True
        if _PROOF_START.match(sentence):
            reply = self._send(sentence)
            return self._fail(reply.error) if reply.error else self._accepted(sentence)
        if end:
            reply = self._send(sentence)
            if reply.error:
                self._fail(reply.error)
                return self._close("Admitted.")
            self.result.script.append(sentence)
            self._proof = None
            if proof.lemma is not None:
                proof.lemma.status = {"Admitted": "admitted", "Abort": "aborted"}.get(end.group(1), "kept")
                if proof.lemma.status == "kept" and not self._in_step():
                    proof.lemma.status, proof.lemma.error = "failed", "replies out of step"
                    self.result.status, self.result.reason = "error", "replies out of step"
                    self.result.detail = f"noticed after {proof.lemma.name}"
                    return False
            return True
        bullet = is_bullet(sentence) or bool(_FOCUS.fullmatch(sentence))
        if bullet or tactic_problem(sentence) is None:
            record = not bullet and proof.lemma is not None
            if record and proof.current is None:
                # The same rule as RocqBackend: a sentence's own display, or `Show.` where coqtop printed none.
                proof.current = clean_goals(self._send("Show.").output)
            state = proof.current
            reply = self._send(sentence)
            if reply.error:
                return self._fail(reply.error)
            if record:
                proof.lemma.steps.append(Step(proof.path, state, sentence))
            self.result.script.append(sentence)
            proof.path += (sentence,)
            proof.current = clean_goals(reply.output) if reply.output else None
            return True
        reply = self._send(sentence)  # a command inside the proof (Check, Hint, Focus, admit, ...)
        if reply.error:
            return self._fail(reply.error)
        self.result.script.append(sentence)
        proof.current = None
        if proof.lemma is not None:
            proof.lemma.commands = True
        return True

    def _in_step(self) -> bool:
        """Whether each reply still answers its own sentence. A sentence that is really two (a splitting miss)
        gets two prompts, and from then on every reply is the previous sentence's, state ids included: a
        command with a known answer shows it. Checked before a lemma's rows are trusted."""
        words = self._send("Check Set.").output.split()
        return words[:2] == ["Set", ":"] and words[2:3] != [] and words[2].startswith("Type")

    def _accepted(self, sentence: str) -> bool:
        self.result.script.append(sentence)
        return True

    def _fail(self, error: str) -> bool:
        self._proof.failed = True
        if self._proof.lemma is not None:
            self._proof.lemma.status, self._proof.lemma.error = "failed", error
        return True

    def _close(self, sentence: str) -> bool:
        reply = self._send(sentence)
        if reply.error:
            self.result.status, self.result.reason, self.result.detail = "error", "cannot leave a failed proof", reply.error
            return False
        self.result.script.append(sentence)
        self._proof = None
        return True


def replay_file(file: SourceFile, sentence_timeout: float = SENTENCE_TIMEOUT, file_timeout: float = FILE_TIMEOUT,
                limits: SandboxLimits | None = None) -> FileReplay:
    """Replay one file in one coqtop process, recording the steps of every named proof."""
    return _Replayer(file, sentence_timeout, file_timeout, limits or SandboxLimits()).run()


# -- the whole extraction ----------------------------------------------------------------------------


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle; a terminated worker still kills its coqtop (the `with` in run()).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def _replay_job(job: tuple[SourceFile, float, float, float, float]) -> tuple[dict, list[dict], dict | None]:
    file, sentence_timeout, file_timeout, valid_fraction, test_fraction = job
    result = replay_file(file, sentence_timeout, file_timeout)
    split = split_of(file.relpath, valid_fraction, test_fraction)
    rows, dropped = result.rows(split)
    record = result.theorems_record(split) if split != "train" else None
    return result.log_row(len(rows), dropped), [asdict(r) for r in rows], record


def _read_jsonl(path: Path) -> Iterator[dict]:
    """The lines of a JSON-lines file that parse as objects; a line cut short by a kill is skipped."""
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row


def _read_log(path: Path) -> dict[str, dict]:
    # A file whose log line was cut short is not in it: that file is replayed again.
    return {row["source"]: row for row in _read_jsonl(path) if "source" in row}


def _compact_partial(path: Path, done: dict[str, dict]) -> None:
    """Keep only the rows of logged files: rows of a file cut off mid-write are replayed, not doubled."""
    if not path.exists():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with open(path, encoding="utf-8") as src, open(tmp, "w", encoding="utf-8") as dst:
        for line in src:
            try:
                keep = json.loads(line)["source"] in done
            except (ValueError, KeyError, TypeError):
                keep = False
            if keep:
                dst.write(line)
    os.replace(tmp, path)


def _rows_in_file_order(path: Path, order: dict[str, int]) -> Iterator[ProofStep]:
    """The partial rows grouped by source in `order` (files finish in any order), each file's in proof order."""
    offsets: dict[str, list[int]] = {}
    with open(path, "rb") as f:
        while True:
            offset = f.tell()
            line = f.readline()
            if not line:
                break
            source = json.loads(line)["source"]
            if source in order:
                offsets.setdefault(source, []).append(offset)
    with open(path, "rb") as f:
        for source in sorted(offsets, key=order.__getitem__):
            for offset in offsets[source]:
                f.seek(offset)
                yield ProofStep(**json.loads(f.readline()))


def extract_proofsteps(
    source: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    valid_fraction: float = 0.02,
    test_fraction: float = 0.02,
    guard=None,
    sentence_timeout: float = SENTENCE_TIMEOUT,
    file_timeout: float = FILE_TIMEOUT,
    limit: int | None = None,
    fresh: bool = False,
    progress: bool = False,
) -> dict:
    """Replay `source` (`stdlib`, a .v file or a folder) and write its proofstep rows to `out`; returns the summary.

    `guard` (a prover.contamination.NgramGuard) drops rows that share an n-gram with a benchmark statement
    and reports them in `out.contamination.json`. Files already in `out.files.jsonl` are not replayed again
    unless `fresh`. The held-out files' top-level theorems go to `out.theorems.jsonl` (`load_heldout_theorems`):
    tasks for a prover trained on the rest.
    """
    if valid_fraction < 0 or test_fraction < 0 or valid_fraction + test_fraction > 1:
        raise ExtractError("--valid-fraction and --test-fraction must be >= 0 and add up to at most 1")
    started = time.monotonic()
    files = source_files(source)[:limit] if limit else source_files(source)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path, partial_path = Path(f"{out}.files.jsonl"), Path(f"{out}.partial")
    theorems_partial = Path(f"{out}.theorems.partial")
    if fresh:
        for path in (log_path, partial_path, theorems_partial):
            path.unlink(missing_ok=True)
    labels = {f.label for f in files}
    done = _read_log(log_path)
    if done and not labels & done.keys():
        raise ExtractError(f"{log_path} logs files of another source: pass --fresh or choose another --out")
    _compact_partial(partial_path, done)
    _compact_partial(theorems_partial, done)
    resumed = sum(label in labels for label in done)
    todo = [f for f in files if f.label not in done]
    jobs = [(f, sentence_timeout, file_timeout, valid_fraction, test_fraction) for f in todo]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), initial=resumed, unit="file", file=sys.stderr)
    pool = multiprocessing.Pool(workers, initializer=_worker_init) if workers > 1 else None
    try:
        results = pool.imap_unordered(_replay_job, jobs) if pool else map(_replay_job, jobs)
        with open(partial_path, "a", encoding="utf-8") as partial, open(log_path, "a", encoding="utf-8") as log, \
                open(theorems_partial, "a", encoding="utf-8") as theorems:
            for log_row, rows, record in results:
                partial.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                partial.flush()  # rows before their log line: a logged file's rows are always whole
                if record is not None:
                    theorems.write(json.dumps(record, ensure_ascii=False) + "\n")
                    theorems.flush()
                log.write(json.dumps(log_row) + "\n")
                log.flush()
                done[log_row["source"]] = log_row
                if bar:
                    bar.update()
                    bar.set_postfix_str(log_row["file"][-40:])
    finally:
        if pool:
            pool.terminate()
            pool.join()
        if bar:
            bar.close()
    summary = _finish(files, done, out, partial_path, valid_fraction, test_fraction, guard, resumed, started)
    summary["heldout_theorems"] = _write_heldout_theorems(files, theorems_partial, Path(f"{out}.theorems.jsonl"),
                                                          valid_fraction, test_fraction, guard)
    return summary


def _write_heldout_theorems(files, partial: Path, out: Path, valid_fraction, test_fraction, guard) -> dict:
    """`out.theorems.jsonl`: the held-out files' records (a file's split can change with the fractions: a file
    replayed while it was in train has none), each name once, statements the guard flags dropped."""
    relpath = {f.label: f.relpath for f in files}
    names: set[str] = set()
    counts = Counter()
    records = []
    for record in _read_jsonl(partial):
        if record.get("source") not in relpath:
            continue
        split = split_of(relpath[record["source"]], valid_fraction, test_fraction)
        if split == "train":
            continue
        lemmas = []
        for lemma in record["lemmas"]:
            if lemma["name"] in names:
                counts["duplicate_names"] += 1
            elif guard is not None and guard.match(lemma["statement"]):
                counts["dropped_contamination"] += 1
            else:
                names.add(lemma["name"])
                lemmas.append(lemma)
                counts[split] += 1
        if lemmas:
            records.append({**record, "split": split, "lemmas": lemmas})
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    os.replace(tmp, out)
    return {"valid": counts["valid"], "test": counts["test"], "duplicate_names": counts["duplicate_names"],
            "dropped_contamination": counts["dropped_contamination"], "out": str(out)}


def load_heldout_theorems(path: str | Path, split: str = "valid") -> tuple[Theorem, ...]:
    """The theorems `extract_proofsteps` wrote to OUT.theorems.jsonl for `split` (valid or test), each with
    the sentences before it in its file as its header. Raises ExtractError for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise ExtractError(f"no such theorems file: {path} (`prover extract` writes OUT.theorems.jsonl)")
    theorems = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            try:
                record = json.loads(line)
                if record["split"] != split:
                    continue
                for lemma in record["lemmas"]:
                    theorems.append(Theorem(name=lemma["name"], statement=lemma["statement"],
                                            header="\n".join(record["sentences"][:lemma["at"]]), backend="rocq",
                                            split=split, benchmark=f"corpus:{record['source']}"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ExtractError(f"{path}:{number}: not a held-out theorems row ({type(exc).__name__}: {exc})") from None
    return tuple(theorems)


def _finish(files, done, out, partial_path, valid_fraction, test_fraction, guard, resumed, started) -> dict:
    """Order, split, deduplicate and guard the partial rows; write `out` atomically; the summary."""
    order = {f.label: i for i, f in enumerate(files)}
    relpath = {f.label: f.relpath for f in files}
    counts = Counter()

    def rows() -> Iterator[ProofStep]:
        if not partial_path.exists():
            return
        for row in _rows_in_file_order(partial_path, order):
            counts["rows"] += 1
            split = split_of(relpath[row.source], valid_fraction, test_fraction)
            yield row if row.split == split else ProofStep(**{**asdict(row), "split": split})

    def unique(stream: Iterator[ProofStep]) -> Iterator[ProofStep]:
        for row in deduplicate(stream):
            counts["unique"] += 1
            yield row

    stream = unique(rows())
    report = guard.new_report() if guard is not None else None
    if guard is not None:
        stream = guard.filter(stream, report)
    per_split = Counter()

    def counted(stream: Iterator[ProofStep]) -> Iterator[ProofStep]:
        for row in stream:
            per_split[row.split] += 1
            yield row

    written = write_proofsteps(out, counted(stream))
    logged = [done[f.label] for f in files if f.label in done]
    skipped = [r for r in logged if r["status"] != "ok"]
    dropped = Counter()
    for r in logged:
        dropped.update(r.get("rows_dropped", {}))
    summary = {
        "source_files": len(files),
        "files_logged": len(logged),
        "files_resumed": resumed,
        "files_replayed_fully": len(logged) - len(skipped),
        "files_skipped": len(skipped),
        "skip_reasons": dict(Counter(r["reason"] for r in skipped).most_common()),
        "lemmas": sum(r["lemmas"] for r in logged),
        "lemmas_kept": sum(r["lemmas_kept"] for r in logged),
        "lemmas_failed": sum(r["lemmas_failed"] for r in logged),
        "lemmas_admitted": sum(r["lemmas_admitted"] for r in logged),
        "steps_dropped": dict(dropped),
        "rows_before_dedupe": counts["rows"],
        "rows_after_dedupe": counts["unique"],
        "rows_dropped_contamination": report.rows_dropped if report is not None else None,
        "rows_written": written,
        "rows_per_split": {s: per_split[s] for s in SPLITS},
        "replay_seconds": round(sum(r["seconds"] for r in logged), 1),
        "seconds": round(time.monotonic() - started, 1),
        "out": str(out),
    }
    if report is not None:
        report.write(Path(f"{out}.contamination.json"))
    return summary
