"""The Isabelle backend: a theorem stated in a named top-level state, tactics run on any state reached since.

The bridge (PISA or Isa-REPL) keeps every state under a name, so the search branches by running on an earlier
name; nothing is undone or replayed while the server lives. Each ProofState handle stands for a tactic path
from the theorem and the state name `t<open>_<handle>`. When the server is restarted (generation changes) the
states the search still asks for are re-created by replaying their paths.
"""
from __future__ import annotations

import os
import re
import shutil
from typing import Callable, Sequence

from isabelle_env.bridge import (
    BridgeError,
    IsabelleBridge,
    ServerDied,
    StepResult,
    TheoryHeader,
    split_header,
    subgoal_count,
)
from isabelle_env.checker import IsabelleVerifier, render_proof
from isabelle_env.verify import Checker
from prover.backend import BackendBase, Timeouts, known_prefix
from prover.errors import one_line
from prover.types import (
    Advanced,
    BackendUnavailable,
    Failed,
    ProofState,
    Proved,
    StatementError,
    TacticPaths,
    TacticResult,
    Theorem,
    TimedOut,
    Verdict,
)

# Draft-Sketch-Prove's heuristics, in its order, tried before Sledgehammer. DSP's `by eval` is left out: it
# proves through the code generator's oracle, which verification refuses by default (like Lean's native_decide);
# pass automation=[...] with it, and check with allow_code_evaluation, to trust it.
AUTOMATION_TACTICS = [
    "by auto", "by simp", "by blast", "by fastforce", "by force", "by presburger", "by sos",
    "by arith", "by linarith", "by (auto simp: field_simps)",
]
SLEDGEHAMMER = "sledgehammer"  # the pseudo-tactic: run Sledgehammer, record the tactic it finds
DRIVERS = ("pisa", "isarepl")

ENV_DRIVER = "LLEMMA_PROVER_ISABELLE_DRIVER"
ENV_PORTS = "LLEMMA_PROVER_PISA_PORTS"  # comma-separated ports of running PISA servers
ENV_HOST = "LLEMMA_PROVER_PISA_HOST"
ENV_LAUNCH = "LLEMMA_PROVER_PISA_LAUNCH"  # command restarting a server, "{port}" filled in
ENV_PISA_DIR = "LLEMMA_PROVER_PISA_DIR"  # the Portal-to-ISAbelle checkout the launch command runs in
ENV_HOME = "LLEMMA_PROVER_ISABELLE_HOME"
ENV_THEORY_FILE = "LLEMMA_PROVER_PISA_THEORY_FILE"
ENV_ISAREPL = "LLEMMA_PROVER_ISAREPL_ADDRESS"
DEFAULT_PORTS = (9000,)

# Text that would end or fake a proof instead of doing one (the check in a fresh process is the real guard;
# this spares the search from "proofs" it would have to throw away): placeholders, abandoning the proof,
# and ML that can reach Skip_Proof.
_REFUSED = re.compile(
    r"(?<![\w'.])(sorry|oops|admit|ML|ML_val|ML_prf|ML_command|setup|local_setup|declaration|method_setup|"
    r"attribute_setup|oracle|axiomatization|tactic|raw_tactic|cheat_tac|Skip_Proof|quick_and_dirty)(?![\w'])"
)
_BY = re.compile(r"^(using\s+.+?\s+)?by\s+(.+)$", re.S)


def refusal(tactic: str) -> str | None:
    if not tactic.strip():
        return "empty tactic"
    m = _REFUSED.search(tactic)
    if m:
        return f"refused: {m.group(1)!r} would not prove the goal"
    if "\\<proof>" in tactic:
        return "refused: '\\<proof>' is a placeholder, not a proof"
    return None


def apply_form(tactic: str) -> str | None:
    """`by M` as `apply M` (likewise after `using ...`): what closes one of several goals, where `by` must
    close them all. None if the tactic is not of that form."""
    m = _BY.match(tactic.strip())
    if not m:
        return None
    return f"{m.group(1) or ''}apply {m.group(2)}"


class _ReplayFailed(Exception):
    pass


def default_isabelle_home() -> str | None:
    if os.environ.get(ENV_HOME):
        return os.environ[ENV_HOME]
    isabelle = shutil.which("isabelle")  # <home>/bin/isabelle
    return os.path.dirname(os.path.dirname(os.path.realpath(isabelle))) if isabelle else None


def make_bridge(
    driver: str | None = None,
    *,
    ports: Sequence[int] | None = None,
    host: str | None = None,
    address: str | None = None,
    isabelle_home: str | None = None,
    theory_file: str | None = None,
    working_dir: str | None = None,
    launch: str | None = None,
    launch_dir: str | None = None,
    connect_timeout: float | None = None,
    sledgehammer_provers: str | None = None,
) -> tuple[IsabelleBridge, Callable[[], None]]:
    """A bridge from explicit settings, falling back to the environment; and how to give it back."""
    driver = driver or os.environ.get(ENV_DRIVER) or "pisa"
    if driver == "isarepl":
        from isabelle_env.isarepl_driver import DEFAULT_ADDRESS, IsaReplBridge

        params = f'provers = "{sledgehammer_provers}"' if sledgehammer_provers else None
        bridge = IsaReplBridge(address or os.environ.get(ENV_ISAREPL) or DEFAULT_ADDRESS, sledgehammer_params=params)
        return bridge, bridge.close
    if driver != "pisa":
        raise BackendUnavailable(f"unknown Isabelle driver {driver!r} (choose one of {', '.join(DRIVERS)})")
    from isabelle_env.pisa_client import PisaPool
    from isabelle_env.pisa_launcher import PisaLauncher

    if ports is None:
        env_ports = os.environ.get(ENV_PORTS, "")
        ports = tuple(int(p) for p in env_ports.replace(",", " ").split()) or DEFAULT_PORTS
    launch = launch or os.environ.get(ENV_LAUNCH)
    launcher = PisaLauncher(launch, cwd=launch_dir or os.environ.get(ENV_PISA_DIR)) if launch else None
    pool = PisaPool.shared(
        tuple(ports),
        host=host or os.environ.get(ENV_HOST) or "localhost",
        isabelle_home=isabelle_home or default_isabelle_home(),
        theory_file=theory_file or os.environ.get(ENV_THEORY_FILE),
        working_dir=working_dir,
        launcher=launcher,
        **({} if connect_timeout is None else {"connect_timeout": connect_timeout}),
    )
    client = pool.acquire()
    return client, lambda: pool.release(client)


class IsabelleBackend(BackendBase):
    """Prover backend over an IsabelleBridge (default: a PISA server, see make_bridge for the settings)."""

    name = "isabelle"
    # `replay`: a fixed limit, not a multiple of the tactic's; `verify`: the live checker's, per theory.
    DEFAULT_TIMEOUTS = Timeouts(header=600.0, statement=60.0, replay=60.0, verify=600.0)

    def __init__(
        self,
        bridge: IsabelleBridge | None = None,
        *,
        driver: str | None = None,
        automation: Sequence[str] | None = None,
        sledgehammer: bool = True,
        sledgehammer_timeout: float = 60.0,
        sledgehammer_provers: str | None = None,
        timeouts: Timeouts | None = None,
        working_dir: str | None = None,
        checker: Checker | None = None,
        **bridge_settings,
    ):
        """A bridge passed in is the backend's to close. `sledgehammer_timeout` is charged per call on top of
        the search's tactic limit: Sledgehammer needs tens of seconds. `sledgehammer_provers` (e.g. "cvc5 vampire e") reaches Isa-REPL only: PISA's server
        fixes its own provers."""
        if bridge is None:
            bridge, self._give_back = make_bridge(
                driver, sledgehammer_provers=sledgehammer_provers, working_dir=working_dir, **bridge_settings
            )
        else:
            self._give_back = bridge.close
        self._bridge = bridge
        self._automation = list(AUTOMATION_TACTICS if automation is None else automation)
        if sledgehammer:
            self._automation.append(SLEDGEHAMMER)
        self._hammer_timeout = sledgehammer_timeout
        self.timeouts = (timeouts or Timeouts()).resolved(self.DEFAULT_TIMEOUTS)
        self._working_dir = working_dir
        self.verifier = IsabelleVerifier(checker, timeout=self.timeouts.verify)
        self._theorem: Theorem | None = None
        self._header: TheoryHeader | None = None
        self._opened = 0
        self._paths = TacticPaths()  # handles of the tactic paths since open()
        self._live: set[int] = set()  # handles whose state exists in the server now
        self._generation = bridge.generation
        self.replays = 0

    # -- the protocol ---------------------------------------------------------------------------------
    def open(self, theorem: Theorem) -> ProofState:
        header = split_header(theorem.header)
        if header is None:
            raise StatementError("the header has no `theory ... imports ... begin`")
        self._forget_states()
        self._theorem, self._header = theorem, header
        self._opened += 1
        self._paths = TacticPaths()
        root = self._paths.handle(())
        for attempt in (1, 2):
            try:
                result = self._state_theorem()
                return ProofState(handle=root, goals=result.state, depth=0)
            except ServerDied:
                if attempt == 2:
                    raise
                self._bridge.restart()  # raises ServerDied if nothing can bring the server back

    def run_tactic(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        tactic = tactic.strip()
        problem = refusal(tactic)
        if problem:
            return Failed(problem)
        for attempt in (1, 2):
            try:
                source = self._materialise(state.handle)
                if tactic == SLEDGEHAMMER:
                    return self._sledgehammer(state, source, timeout)
                return self._apply(state.handle, source, tactic, timeout)
            except _ReplayFailed as exc:
                return Failed(str(exc))
            except ServerDied:
                if attempt == 2:
                    raise
                self._bridge.restart()  # the states are gone; the next attempt replays the path

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return render_proof(theorem, tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return self.verifier.verify(theorem, tactics, timeout)

    def automation_tactics(self) -> list[str]:
        return list(self._automation)

    def close(self) -> None:
        self._forget_states()
        give_back, self._give_back = self._give_back, lambda: None
        give_back()

    # -- internals ------------------------------------------------------------------------------------
    def _name(self, handle: int) -> str:
        return f"t{self._opened}_{handle}"

    def _forget_states(self) -> None:
        """Free the last theorem's states in the server (best effort: a dead server has freed them)."""
        if self._opened and self._bridge.generation == self._generation:
            names = [self._name(h) for h in self._live] + [self._theory_name(), f"{self._theory_name()}_context"]
            try:
                for name in names:
                    self._bridge.delete(name)
            except (BridgeError, ServerDied):
                pass
        self._live = set()

    def _theory_name(self) -> str:
        return f"t{self._opened}_theory"

    def _state_theorem(self) -> StepResult:
        """Process the header and the statement; the root state is then live."""
        theorem, header, bridge = self._theorem, self._header, self._bridge
        theory = self._theory_name()
        result = bridge.initialise(
            theory, header=header.text, working_dir=self._working_dir, timeout=self.timeouts.header
        )
        if not result.ok:
            raise StatementError(f"header does not load: {result.error or 'timed out'}")
        if header.rest:  # definitions the statement relies on
            result = bridge.step(theory, header.rest, f"{theory}_context", self.timeouts.header)
            if not result.ok:
                raise StatementError(f"header does not load: {result.error or 'timed out'}")
            theory = f"{theory}_context"
        result = bridge.step(theory, theorem.statement, self._name(0), self.timeouts.statement)
        if result.timed_out:
            raise StatementError(f"the statement did not load within {self.timeouts.statement:g}s")
        if result.error:
            raise StatementError(f"statement rejected: {one_line(result.error)}")
        if result.proof_level == 0:
            raise StatementError("the statement opens no proof (does it carry its own?)")
        self._generation = bridge.generation
        self._live = {0}
        return result

    def _materialise(self, handle: int) -> str:
        """The name of the handle's state, re-creating it (and the states on its path) after a restart."""
        if self._bridge.generation != self._generation:
            self._live = set()
        if handle in self._live:
            return self._name(handle)
        path = self._paths.path(handle)
        if 0 not in self._live:
            try:
                self._state_theorem()
            except StatementError as exc:
                raise _ReplayFailed(f"re-stating the theorem after a restart failed: {exc}") from exc
        start = known_prefix(path, lambda prefix: self._paths.get(prefix) in self._live)  # the root is live by now
        for i in range(start, len(path)):
            source, target = self._paths.handle(path[:i]), self._paths.handle(path[: i + 1])
            result = self._bridge.step(self._name(source), path[i], self._name(target), self.timeouts.replay)
            if not result.ok:
                raise _ReplayFailed(f"replaying {path[i]!r} after a restart failed: {result.error or 'timed out'}")
            self._live.add(target)
        self.replays += 1
        return self._name(handle)

    def _apply(self, handle: int, source: str, tactic: str, timeout: float) -> TacticResult:
        path = self._paths.path(handle) + (tactic,)
        target = self._paths.handle(path)
        result = self._bridge.step(source, tactic, self._name(target), timeout)
        if result.timed_out:
            self._live.discard(target)  # a command still running may register the name later
            return TimedOut(timeout)
        if result.error:
            return Failed(one_line(result.error))
        self._live.add(target)
        if result.finished:
            return Proved(path)
        if subgoal_count(result.state) == 0:
            # An apply script with no goals left still needs `done`; close it so the proof is complete.
            done = self._apply(target, self._name(target), "done", timeout)
            if isinstance(done, (Proved, Advanced)):
                return done
        return Advanced(ProofState(handle=target, goals=result.state, depth=len(path)))

    def _sledgehammer(self, state: ProofState, source: str, timeout: float) -> TacticResult:
        found = self._bridge.sledgehammer(source, self._hammer_timeout)
        if not found:
            return Failed("sledgehammer found no proof")
        limit = max(timeout, self._hammer_timeout)  # what it found may take its prover's preplay time
        result = self._apply(state.handle, source, found, limit)
        if isinstance(result, Failed) and (subgoal_count(state.goals) or 0) > 1:
            alternative = apply_form(found)  # it proved the first goal; `by` insists on all of them
            if alternative:
                result = self._apply(state.handle, source, alternative, limit)
        return result
