"""Replaying one Coq source file through coqtop, sentence by sentence, recording before every tactic of every
proof the goals exactly as the search shows them to the model (`RocqBackend`): its rows, and its top-level
theorems as held-out tasks."""
from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from coq_env.backend import clean_goals
from coq_env.coqtop import Coqtop, CoqtopDied, CoqtopTimeout, SandboxLimits
from coq_env.sentences import as_single_tactic, is_bullet, normalize, split_sentences, tactic_problem
from coq_env.sources import FOCUS, SourceFile, replay_sentences
from coq_env.verify import first_assumption
from prover.proofsteps import ProofStep

SENTENCE_TIMEOUT = 10.0
# Loading libraries and re-checking a whole proof at Qed legitimately take longer than one tactic.
SLOW_SENTENCE_FACTOR = 6
FILE_TIMEOUT = 900.0
MAX_TACTIC_CHARS = 300


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
        bullet = is_bullet(sentence) or bool(FOCUS.fullmatch(sentence))
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
