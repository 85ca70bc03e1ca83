"""The goal an `admit.` step gives up, stated as a lemma of its own, so the search can open it like any theorem.

coqtop runs the file up to the step (its lemma's statement and the proof's steps before it), reverts every
hypothesis of the focused goal, and prints what is left: a closed statement, `forall` over the old context. A
proof of that lemma goes into the file as the lemma itself, just before the hole's lemma, and the step becomes
`{ REVERT_ALL exact LEMMA. }` (after its goal selector, if any): the check compiles exactly that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from coq_env.coqtop import Coqtop, CoqtopDied, CoqtopTimeout, SandboxLimits
from coq_env.holes import Hole
from coq_env.sentences import split_sentences

REVERT_ALL = "repeat match goal with H : _ |- _ => revert H end."  # the last hypothesis first: dependents go first
_GOAL_BAR = "============================"
_SELECTOR = re.compile(r"^\s*(\d+|\[\s*[\w']+\s*\])\s*:")


class NoAdmitGoal(ValueError):
    """The admitted goal cannot be stated on its own (its proof's steps fail, it holds an existential variable)."""


def admit_lemma_name(hole: Hole) -> str:
    """The name of the lemma that states `hole`'s goal: the hole's lemma's, with the admit's ordinal."""
    return f"{hole.name}_admit{hole.ordinal}"


def selector_of(hole: Hole) -> str:
    """The goal selector written before the admit (`2:`), or ""."""
    found = _SELECTOR.match(hole.replaced)
    return f"{found.group(1)}:" if found else ""


def admit_goal_statement(header: str, hole: Hole, load_flags: tuple[str, ...] = (),
                         limits: SandboxLimits = SandboxLimits(), timeout: float = 60.0) -> str:
    """`Lemma NAME : GOAL.`: the goal `hole` (an admit step) gives up, with its context reverted into it, as coqtop
    shows it after `header`, the lemma's statement and the proof's steps before the hole. Raises NoAdmitGoal."""
    sentences = [*split_sentences(header), hole.statement, hole.proof_opening or "Proof.", *hole.steps_before]
    selector = selector_of(hole)
    number = selector[:-1] if selector[:1].isdigit() else "1"
    try:
        with Coqtop(args=load_flags, limits=limits) as coq:
            for sentence in [*sentences, "Set Printing Width 100000."]:
                reply = coq.send(sentence, timeout)
                if reply.error:
                    raise NoAdmitGoal(f"the proof does not run up to the admit: {reply.error.splitlines()[0]}")
            reply = coq.send(f"{selector} {REVERT_ALL}".strip(), timeout)
            if reply.error:
                raise NoAdmitGoal(f"cannot revert the admitted goal's context: {reply.error.splitlines()[0]}")
            shown = coq.send(f"Show {number}.", timeout)
    except (CoqtopDied, CoqtopTimeout) as exc:
        raise NoAdmitGoal(f"coqtop failed before the admit: {exc}") from None
    if shown.error or _GOAL_BAR not in shown.output:
        raise NoAdmitGoal(f"no goal at the admit: {shown.error or shown.output.strip()[:200]}")
    goal = " ".join(shown.output.split(_GOAL_BAR, 1)[1].split())
    if re.search(r"\?[\w']", goal):
        raise NoAdmitGoal("the admitted goal holds an existential variable")
    return f"Lemma {admit_lemma_name(hole)} : {goal}."


@dataclass(frozen=True)
class GoalLemma:
    """A proof of an admit step's hole as the writer takes it: the lemma stating the step's goal, its tactics."""

    statement: str  # `Lemma NAME : GOAL.` (admit_goal_statement)
    tactics: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.statement.split()[1]


def goal_lemma_use(name: str) -> str:
    """The sentences that close the admitted goal with the lemma stating it."""
    return f"{{ {REVERT_ALL} exact {name}. }}"


def filled_admit(hole: Hole, name: str) -> str:
    """The admit step's replacement as the check compiles it and the writer writes it."""
    return f"{selector_of(hole)} {goal_lemma_use(name)}".strip()
