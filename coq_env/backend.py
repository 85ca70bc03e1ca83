"""The Rocq backend: a theorem opened in one coqtop process, tactics run on any earlier state."""
from __future__ import annotations

import math
import re
import shutil
import time
from typing import Sequence

from coq_env import absolute_values, function_arguments, hammer, induction, premises, reciprocals, residues, roots, square_roots
from coq_env.coqtop import Coqtop, CoqtopDied, CoqtopTimeout, SandboxLimits, find_executable
from coq_env.sentences import as_single_tactic, is_bullet, split_sentences
from coq_env.verify import AUTOMATION_IMPORT, DECLARATION, RocqVerifier, render_proof
from prover.backend import BackendBase, Timeouts, known_prefix
from prover.generators import seconds_left
from prover.types import Advanced, Failed, ProofState, Proved, StatementError, TacticPaths, TacticResult, TimedOut, Theorem, Verdict

REPAIRS_PER_NAME = 2  # the real names a made-up lemma name is replaced by, nearest first
AUTOMATION_TACTICS = [
    "intros", "lia", "nia", "lra", "nra", "field", "ring", "reflexivity", "auto", "easy", "intuition",
    "split", "subst", "simpl",
]
# Positivstellensatz over the reals: polynomial inequalities nra needs a hint for. It calls the csdp solver
# (Debian: coinor-csdp), in search and in the checker alike; without csdp it can only fail, so it is left out.
PSATZ_TACTICS = ["psatz R 2", "psatz R 3"]
# The automation sentences that close their goal or fail, in the order they run after the fixed list.
CLOSERS = [(residues, residues.RESIDUE_TACTICS), (square_roots, square_roots.SQUARE_ROOT_TACTICS),
           (reciprocals, reciprocals.RECIPROCAL_TACTICS), (absolute_values, absolute_values.ABSOLUTE_VALUE_TACTICS),
           (roots, roots.ROOT_TACTICS), (function_arguments, function_arguments.EQUAL_ARGUMENT_TACTICS),
           (induction, induction.INDUCTION_TACTICS)]
# Those sentences as run_tactic runs them (as_single_tactic's), with each one's time limit.
CLOSER_TIMEOUTS = {as_single_tactic(tactic)[0]: module.TIMEOUT for module, tactics in CLOSERS for tactic in tactics}


def default_automation() -> list[str]:
    """The fixed list, psatz where csdp is installed, and last, the sentences that close their goal or fail:
    remainders (coq_env.residues), square roots (coq_env.square_roots), reciprocals (coq_env.reciprocals),
    absolute values (coq_env.absolute_values), roots (coq_env.roots), equal arguments of a function
    (coq_env.function_arguments), then induction (coq_env.induction)."""
    tactics = list(AUTOMATION_TACTICS)
    if shutil.which("csdp"):
        after_nra = tactics.index("nra") + 1
        tactics[after_nra:after_nra] = PSATZ_TACTICS
    return tactics + [tactic for _, closers in CLOSERS for tactic in closers]

# Replays longer than this run under `Set Silent` (the toggle costs about a short tactic).
SILENT_REPLAY_MIN = 1
# The most lemmas read from the modules a header `Include`s (a Print Module of the Numbers hierarchy lists a few
# hundred; each costs one Check).
INCLUDED_LEMMAS_MAX = 2000
# The time reading them must have left (0.2 to 0.5 s measured for NAddOrderProp's 244): with less, they are read at a
# later state, rather than cut off, which costs coqtop's restart and the lemmas.
INCLUDED_READ_MIN_SECONDS = 1.0
# Fresh processes `open` starts after one dies while the theorem's header loads.
OPEN_RETRIES = 2

_IDS = re.compile(r" \(ID \d+\)")


def clean_goals(output: str) -> str:
    """Goal text without coqtop's internal goal ids, which differ between equal states."""
    return _IDS.sub("", output).strip()


GOAL_BAR = "============================"
# A context line of coqtop's goal display, `x, y : R` or `h0 : f 2 = 3`; longer ones wrap onto indented lines.
_DECLARATION = re.compile(r"^  ([^\s:,][^:,]*(?:, [^\s:,][^:,]*)*) : (.*)$")
_WORD = re.compile(r"[\w']+")


def state_key(goals: str) -> str:
    """What two goal displays share when they are the same problem: in the focused goal's context, a hypothesis
    whose name nothing mentions stands as its type alone, and repeats of it count once. So `intros` and
    `intros x h.` meet, and a `pose proof` of a fact already there changes nothing."""
    if GOAL_BAR not in goals:
        return " ".join(goals.split())
    context, rest = goals.split(GOAL_BAR, 1)
    preamble, declarations = [], []  # (names, type)
    for line in context.splitlines():
        match = _DECLARATION.match(line)
        if match:
            declarations.append(([n.strip() for n in match.group(1).split(",")], match.group(2)))
        elif declarations:
            names, typ = declarations[-1]
            declarations[-1] = (names, f"{typ} {line}")
        else:
            preamble.append(line)
    words = [set(_WORD.findall(typ)) for _, typ in declarations]
    rest_words = set(_WORD.findall(rest))
    named, anonymous = [], set()
    for i, (names, typ) in enumerate(declarations):
        typ = " ".join(typ.split())
        if any(n in rest_words or any(n in w for j, w in enumerate(words) if j != i) for n in names):
            named.append(f"{', '.join(names)} : {typ}")
        else:
            anonymous.add(typ)
    return " | ".join([" ".join(" ".join(preamble).split()), *named, *sorted(anonymous), " ".join(rest.split())])


def focused_goal(goals: str) -> tuple[list[str], str] | None:
    """(the names the focused goal's context declares, its conclusion on one line), or None where there is no goal
    shown."""
    if GOAL_BAR not in goals:
        return None
    context, rest = goals.split(GOAL_BAR, 1)
    names = [name.strip() for line in context.splitlines() if (match := _DECLARATION.match(line))
             for name in match.group(1).split(",")]
    conclusion = rest.split("\n\n", 1)[0]  # the other goals follow after a blank line
    return names, " ".join(conclusion.split())


class RocqBackend(BackendBase):
    """Drives coqtop; keeps one process per theorem header and replays tactic paths to jump between branches.

    coqtop forgets states past a `BackTo`, so each state is stored as its tactic path from the theorem,
    and reaching it means backing up to the longest shared prefix with what coqtop holds and replaying
    the rest. A process that dies or wedges is replaced and the path replayed: the search goes on.
    """

    name = "rocq"
    # `header` and `statement` also bound starting coqtop and its bookkeeping (BackTo, Show, Set Silent).
    DEFAULT_TIMEOUTS = Timeouts(header=120.0, statement=120.0, replay_factor=2.0, interrupt_grace=5.0, verify=300.0)

    def __init__(
        self,
        limits: SandboxLimits = SandboxLimits(),
        automation: list[str] | None = None,
        timeouts: Timeouts | None = None,
        hammer_limits: hammer.HammerLimits | None = hammer.HammerLimits(),
        load_flags: tuple[str, ...] = (),
    ):
        """`hammer_limits`: CoqHammer's limits inside one `hammer` call; None: no hammer (`--no-hammer`).
        `load_flags`: a project's -R/-Q/-I flags (coq_env.project.CoqProject.flags), given to every coqtop and to
        the verifier, so headers that require the project's libraries load."""
        find_executable("coqtop"), find_executable("coqc")  # fail now, with the install hint, not mid-batch
        self.limits = limits
        self.load_flags = tuple(load_flags)
        self.hammer_limits = hammer_limits if hammer_limits is not None and hammer.available() else None
        self._automation = default_automation() if automation is None else list(automation)
        self.timeouts = (timeouts or Timeouts()).resolved(self.DEFAULT_TIMEOUTS)
        self.verifier = RocqVerifier(limits=limits, timeout=self.timeouts.verify, load_flags=self.load_flags)
        self._coq: Coqtop | None = None
        self._header: str | None = None
        self._header_state = 0
        self._theorem: Theorem | None = None
        self._root_state = 0
        # Sentences coqtop holds after `Proof.`, with the state after each and whether it was replayed silently.
        self._doc: list[tuple[str, int, bool]] = []
        self._held: tuple[str, ...] = ()  # the same sentences, as a path
        self._silent = False  # coqtop's Silent flag at its current state (BackTo restores the flag too)
        self._paths = TacticPaths()  # handles of the tactic paths since open()
        # Search answers since open(), by query: a query names no local (they are holes), so its answer is the same
        # at every state of the theorem, and states that share a conclusion (most of a search's) ask coqtop once.
        self._searched: dict[str, list[premises.Lemma]] = {}
        # The lemmas the header's `Include`s brought into the open module, which Search does not list before Coq 8.20
        # (coq_env.premises): read once per theorem, when its first Search is asked; None until then.
        self._included: list[premises.Lemma] | None = None
        self._unmatched: list[str] = []  # queries asked before there was time to read them
        # Tactics since open() that coqtop refused for naming a lemma it does not know, with that name: premise
        # retrieval offers them again with the nearest real names.
        self._unknown_names: dict[str, str] = {}
        # Closing sentences that ran out of time since open(): not run again on this theorem (see run_tactic).
        self._slow_closers: set[str] = set()
        self.restarts = 0

    # -- the protocol ---------------------------------------------------------------------------
    def open(self, theorem: Theorem) -> ProofState:
        self._theorem = theorem
        self._paths, self._searched, self._unknown_names, self._slow_closers = TacticPaths(), {}, {}, set()
        self._included, self._unmatched = None, []
        for attempt in range(1 + OPEN_RETRIES):
            try:
                goals = self._start_theorem()
                break
            except CoqtopDied:
                # Killed (or out of memory) while loading the header or statement: as mid-search, a fresh process
                # tries again. One that dies every time still fails the theorem, and a rerun retries its row.
                self._drop_process()
                if attempt == OPEN_RETRIES:
                    raise
                self.restarts += 1
        return ProofState(handle=self._paths.handle(()), goals=goals, depth=0)

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        sentence, problem = as_single_tactic(tactic)
        if problem:
            return Failed(problem)
        if hammer.is_hammer(sentence) and self.hammer_limits is None:
            return Failed("hammer is off (--no-hammer) or not installed here")
        if closing := sentence in CLOSER_TIMEOUTS:
            # What makes one slow is the theorem's (large numerals, moduli, many naturals), not the state's: after
            # one timeout it would cost its limit again at every state of the search.
            if sentence in self._slow_closers:
                return Failed("not run: this automation tactic ran out of time earlier on this theorem")
            timeout = min(timeout, CLOSER_TIMEOUTS[sentence])
        path = self._paths.path(state.handle)
        step = self._hammer_step if hammer.is_hammer(sentence) else self._step
        for attempt in (1, 2):
            try:
                self._ensure_process()
                result = step(state, path, sentence, timeout)
                if isinstance(result, Failed) and (unknown := premises.UNKNOWN_REFERENCE.search(result.error)):
                    self._unknown_names[tactic] = unknown.group(1)
                if closing and isinstance(result, TimedOut):
                    self._slow_closers.add(sentence)
                return result
            except CoqtopDied as exc:
                self._drop_process()
                if attempt == 2:
                    return Failed(f"coqtop died: {exc}")

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.verifier.verify(theorem, tactics, timeout)

    def automation_tactics(self) -> list[str]:
        return list(self._automation)

    def hammer_tactics(self) -> list[str]:
        return [hammer.HAMMER_TACTIC] if self.hammer_limits is not None else []

    def premise_tactics(self, state: ProofState, hints: Sequence[str], limit: int, timeout: float) -> list[str]:
        """Coq's Search at the state (coq_env.premises), its queries within one `timeout`, each asked once per theorem;
        [] where the goal gives no pattern worth asking, or coqtop fails or dies on the way (the next tactic
        restarts it). First, up to half of `limit`: the hints coqtop refused for a lemma name it does not know,
        with the nearest real names (`REPAIRS_PER_NAME` each); then the lemmas found for the goal."""
        goal = focused_goal(state.goals)
        if not goal or limit <= 0:
            return []
        made_up = {hint: self._unknown_names[hint] for hint in hints if hint in self._unknown_names}
        named = {hint: premises.name_query(name) for hint, name in made_up.items()}
        asked = premises.queries(goal[1], goal[0])
        new = list(dict.fromkeys(q for q in [*named.values(), *(q for _, q in asked)] if q and q not in self._searched))
        if new and not self._search(state, new, goal[0], timeout):
            return []
        per_hint = [premises.repaired(hint, made_up[hint], self._searched.get(query, []), REPAIRS_PER_NAME)
                    for hint, query in named.items() if query]
        nearest_first = [tactics[i] for i in range(REPAIRS_PER_NAME) for tactics in per_hint if i < len(tactics)]
        repairs = [t for t in dict.fromkeys(nearest_first) if t not in hints][:limit // 2]
        found = [(kind, lemma) for kind, query in asked for lemma in self._searched.get(query, [])]
        ranked = [t for t in premises.ranked(found, hints, limit, goal[1]) if t not in repairs]
        return repairs + ranked[:limit - len(repairs)]

    def _search(self, state: ProofState, queries: list[str], local_names: list[str], timeout: float) -> bool:
        """Ask `queries` where `state` is and keep each answer (nothing for a query Coq refuses), less what is never
        to be offered; False where coqtop wedged or died on the way. All of it within one `timeout`: a query that the
        time does not reach is left for the next state, and so is reading the included lemmas where less than
        INCLUDED_READ_MIN_SECONDS is left. Left out: the state's own hypotheses
        (`local_names`: the state's, not the theorem's, and the automation and the model use them already), and a
        lemma of the theorem's own name, which is the theorem itself where a copy of its library is loaded
        (CoqHammer loads the stdlib's ssreflect, say): proving it by itself is no proof."""
        own = DECLARATION.match(" ".join(self._theorem.statement.split()))
        unwanted = set(local_names)

        def offered(lemma: premises.Lemma) -> bool:
            return lemma.name not in unwanted and (own is None or lemma.name.rsplit(".", 1)[-1] != own.group(1))

        deadline = time.monotonic() + timeout
        asked: list[str] = []  # those not asked within the time are asked again at the next state
        try:
            self._ensure_process()
            for i, query in enumerate(queries):
                if i == 0:  # move to the state and ask there; the queries leave the proof as it was
                    reply, failure = self._run(self._paths.path(state.handle), query, timeout)
                    if self._coq is None:  # wedged past its limit, and replaced
                        return False
                elif (left := seconds_left(deadline, timeout)) <= 0:
                    break
                else:
                    reply = self._send(self._command(query, left), left + self.timeouts.interrupt_grace)
                    failure = reply.error
                answers = [] if failure else premises.parse_answers(reply.output)
                self._searched[query] = [lemma for lemma in answers if offered(lemma)]
                asked.append(query)
            self._unmatched += asked
            if self._included is None and seconds_left(deadline, timeout) >= INCLUDED_READ_MIN_SECONDS:
                self._included = []  # asked once, even where reading them fails
                self._included = self._read_included(deadline)
            if self._included is not None:
                for query in self._unmatched:
                    known = {lemma.name for lemma in self._searched[query]}
                    self._searched[query] += [lemma for lemma in premises.included_answers(query, self._included)
                                              if lemma.name not in known and offered(lemma)]
                self._unmatched = []
            # coqtop holds the path plus the queries, which the path must not keep: back to where they ran.
            self._back_to_held()
        except (CoqtopDied, CoqtopTimeout):
            self._drop_process()
            return False
        return True

    def _read_included(self, deadline: float) -> list[premises.Lemma]:
        """The lemmas of the modules the header `Include`s, with their types as printed where the proof is (so in
        the notations the goal is printed in): `Print Module` names them, one `Check` each types them; the
        Checks are written at once and their answers read in order. A name that does not resolve here (its
        module was closed since) is left out. All of it by `deadline` (time.monotonic(); CoqtopTimeout past it)."""

        def left() -> float:
            return seconds_left(deadline, math.inf)

        names: list[str] = []
        for module in premises.included_modules(self._theorem.header):
            for command in (f"Print Module {module}.", f"Print Module Type {module}."):
                reply = self._send(command, left())
                if not reply.error:
                    names += premises.module_field_names(reply.output)
                    break
        names = list(dict.fromkeys(names))[:INCLUDED_LEMMAS_MAX]
        if not names:
            return []
        self._coq.write(*(f"Check {name}." for name in names))
        lemmas = []
        for name in names:
            reply = self._coq.read(left())
            if not reply.error and (lemma_type := premises.checked_type(reply.output)):
                lemmas.append(premises.Lemma(name, lemma_type))
        return lemmas

    def state_key(self, state: ProofState) -> str:
        return state_key(state.goals)

    def close(self) -> None:
        self._drop_process()

    # -- internals ------------------------------------------------------------------------------
    def _drop_process(self) -> None:
        if self._coq is not None:
            self._coq.close()
        self._coq, self._header, self._doc, self._held, self._silent = None, None, [], (), False

    def _start_theorem(self) -> str:
        """Make coqtop hold the theorem's header, statement and `Proof.`; return the initial goals."""
        theorem = self._theorem
        if self._coq is not None and self._coq.alive() and self._header == theorem.header:
            self._send(f"BackTo {self._header_state}.", self.timeouts.statement)
        else:
            self._drop_process()
            self._coq = Coqtop(args=self.load_flags, limits=self.limits)
            extra = [hammer.HAMMER_IMPORT, *self.hammer_limits.sentences()] if self.hammer_limits is not None else []
            for sentence in [*split_sentences(theorem.header), AUTOMATION_IMPORT, *extra]:
                reply = self._send(sentence, self.timeouts.header)
                if reply.error:
                    self._drop_process()
                    raise StatementError(f"header does not load: {reply.error}")
            self._header, self._header_state = theorem.header, self._coq.state_id
        reply = self._send(" ".join(theorem.statement.split()), self.timeouts.statement)
        if reply.error:
            raise StatementError(f"statement rejected: {reply.error}")
        self._send("Proof.", self.timeouts.statement)
        self._root_state, self._doc, self._held, self._silent = self._coq.state_id, [], (), False
        return clean_goals(reply.output or self._send("Show.", self.timeouts.statement).output)

    def _send(self, sentence: str, timeout: float):
        return self._coq.send(sentence, timeout)

    def _ensure_process(self) -> None:
        # A process that died since is found by the next read or write (CoqtopDied), not polled here.
        if self._coq is None or self._header != self._theorem.header:
            self.restarts += 1  # the process died, wedged or was killed: start over; the step replays the path
            self._drop_process()
            self._start_theorem()

    def _command(self, sentence: str, timeout: float) -> str:
        """A proof sentence under coqtop's own Timeout (bullets and braces cannot take one)."""
        return sentence if is_bullet(sentence) else f"Timeout {max(1, math.ceil(timeout))} {sentence}"

    def _move_and_run(self, path: tuple[str, ...], sentence: str, timeout: float):
        """Bring coqtop from the path it holds to `path` (BackTo the shared prefix, replay the rest), then run
        `sentence`; all written at once, so a jump between branches costs one round trip, not one per sentence.

        Returns the sentence's reply, or None if even SIGINT could not stop it (the process is then replaced).
        """
        held = self._held
        plan: list[tuple[str, str | None, bool]] = []  # (command, the path sentence it replays, Silent after it)
        silent = self._silent

        def add(command: str, replayed: str | None = None) -> None:
            nonlocal silent
            if command in ("Set Silent.", "Unset Silent."):
                silent = command == "Set Silent."
            plan.append((command, replayed, silent))

        replay_timeout = self.timeouts.replay_limit(timeout)
        grace = self.timeouts.interrupt_grace
        if path != held:
            common = known_prefix(path, lambda prefix: held[:len(prefix)] == prefix)
            if common < len(held):  # not an extension of what coqtop holds: back up to the shared prefix
                silent = self._doc[common - 1][2] if common else False  # BackTo restores the flag too
                add(f"BackTo {self._doc[common - 1][1] if common else self._root_state}.")
                del self._doc[common:]
                self._held = held[:common]
            replay = path[common:]
            if len(replay) > SILENT_REPLAY_MIN and not silent:
                add("Set Silent.")  # printing goals is most of a long replay's cost, and nobody reads them
            for sentence_ in replay[:-1]:
                add(self._command(sentence_, replay_timeout), sentence_)
            if silent:
                # The last replayed sentence prints again, so a later BackTo to this node needs no toggle.
                add("Unset Silent.")
            for sentence_ in replay[-1:]:
                add(self._command(sentence_, replay_timeout), sentence_)
        if silent:
            add("Unset Silent.")
        self._coq.write(*(command for command, _, _ in plan), self._command(sentence, timeout))
        try:
            for command, replayed, silent_after in plan:
                reply = self._coq.read(self.timeouts.statement if replayed is None else replay_timeout + grace)
                if reply.error:
                    raise CoqtopDied(f"{command!r} failed while moving to a state: {reply.error}")
                if replayed is not None:
                    self._push(replayed, reply.state_id, silent=silent_after)
        except CoqtopTimeout as exc:
            raise CoqtopDied(f"no answer while moving to a state: {exc}") from exc
        self._silent = False
        # The grace covers both waits past the limit (Coq's own Timeout, then our interrupt), so a step ends within
        # its limit plus the grace even where printing the state it reached is what takes the time.
        try:
            return self._coq.read(timeout + grace / 2)
        except CoqtopTimeout:
            reply = self._coq.interrupt(grace / 2)
            if reply is None:  # wedged: replace the process; the next step replays the path
                self._drop_process()
            return reply

    def _hammer_step(self, state: ProofState, path: tuple[str, ...], sentence: str, timeout: float) -> TacticResult:
        """Run `hammer` where `path` leads, then, in its place, the tactic it printed: what the path records, so
        the proof replays without the ATPs (and the same way every time)."""
        t0 = time.monotonic()
        reply, failure = self._run(path, sentence, timeout)
        if failure is not None:
            return failure
        # coqtop holds the path plus hammer's step, which the path must not keep: back to where the hammer ran.
        self._back_to_held()
        found = hammer.replay_tactic(reply.output)
        replay, problem = as_single_tactic(found) if found else (None, "hammer printed no tactic to replace it")
        if problem:
            return Failed(problem)
        result = self._step(state, path, replay, max(1.0, timeout - (time.monotonic() - t0)))
        if isinstance(result, Failed):
            return Failed(f"hammer's tactic {replay!r} does not replay: {result.error}")
        if isinstance(result, TimedOut):
            return Failed(f"hammer's tactic {replay!r} does not replay within {result.seconds:g}s")
        return Advanced(result.state, step=replay) if isinstance(result, Advanced) else Proved(result.tactics, step=replay)

    def _back_to_held(self) -> None:
        """Back to the end of the path coqtop holds, past what was run after it and is not to be kept."""
        self._send(f"BackTo {self._doc[-1][1] if self._doc else self._root_state}.", self.timeouts.statement)
        self._silent = self._doc[-1][2] if self._doc else False  # BackTo restores the flag too

    def _push(self, sentence: str, state_id: int, silent: bool = False) -> None:
        self._doc.append((sentence, state_id, silent))
        self._held += (sentence,)

    def _run(self, path: tuple[str, ...], sentence: str, timeout: float):
        """(coqtop's reply to `sentence` run where `path` leads, None), or (None, the TimedOut or Failed it came to)."""
        reply = self._move_and_run(path, sentence, timeout)
        if reply is None:
            return None, TimedOut(timeout)
        if reply.error:
            if reply.error.startswith(("Timeout!", "User interrupt")):
                return None, TimedOut(timeout)
            return None, Failed(reply.error)
        return reply, None

    def _step(self, state: ProofState, path: tuple[str, ...], sentence: str, timeout: float) -> TacticResult:
        reply, failure = self._run(path, sentence, timeout)
        if failure is not None:
            return failure
        new_path = path + (sentence,)
        self._push(sentence, reply.state_id)
        output = reply.output
        if not output:
            # coqtop skips printing goals it believes unchanged, and after a BackTo that belief can be
            # wrong: ask. (Show adds a state after the tactic's; BackTo the tactic's state stays valid.)
            output = self._send("Show.", self.timeouts.statement).output
        if "No more goals." in output:
            # Coq says "No more goals" inside an unclosed `{`; close the braces so the script is complete.
            unclosed = sum(s == "{" for s in new_path) - sum(s == "}" for s in new_path)
            for _ in range(unclosed):
                self._push("}", self._send("}", self.timeouts.statement).state_id)
            return Proved(new_path + ("}",) * unclosed)
        goals = clean_goals(output)
        return Advanced(ProofState(handle=self._paths.handle(new_path), goals=goals, depth=len(new_path)))
