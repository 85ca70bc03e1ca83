"""Proof by induction as automation for Rocq: one sentence that does induction on a natural number and closes both
cases, or fails.

Why: the statements of textbook sums (`sum_f_R0 (fun k => ...) n = ...`), powers (`n + 1 <= 2 ^ n`) and
recurrences (`a (S n) = 2 * a n + 1 -> a n = ...`) need `induction n`, then the successor equations and the
induction hypothesis, then an arithmetic decision procedure. Neither the fixed automation list (one tactic each) nor
the model (it never proposes `induction` on such goals) finds that path within a budget; by hand it is routine.

Each tactic here tries the natural numbers in the context (after `intros`), most recent first, and keeps the first
whose two cases close: the base case after `simpl` (with each nat-indexed equation hypothesis taken at 0, for
recurrences that start at 0); the step after the successor rewrites and with each such hypothesis taken at n and
S n. A tactic only ever closes its goal, so it adds no state to the search; elsewhere it costs a failure, which the
backend bounds (TIMEOUT, and not again on a theorem where it ran out of time).

There are two, because Coq resolves a qualified name (`Nat2Z.inj_succ`) when it reads a tactic, and refuses the
whole tactic where the name is not loaded; an unqualified one (`tech5`) is looked up as the tactic runs, so the
real-number and nat tactic runs everywhere and its rewrites are skipped (`rewrite ?`) where their lemmas are absent.
"""
from __future__ import annotations

# An equation over nat (a recurrence `forall n, a (S n) = ...`), taken at the given points as hypotheses: the
# pattern asks for an equation, so a function `f : nat -> R` is not "instantiated".
_RECURRENCE = "match goal with H : forall _ : nat, _ = _ |- _ => {} end"


def _at(*points: str) -> str:
    return "try (" + _RECURRENCE.format("; ".join(f"pose proof (H {p})" for p in points)) + ")"


def _induction(base: str, step: str) -> str:
    return f"intros; match goal with n : nat |- _ => induction n as [|n IH]; [ {base} | {step} ] end"


# Reals and nat: sums (`tech5`: the last term split off), `INR (S n)` (`S_INR`), powers with a sum as exponent
# (`pow_add`); `INR n >= 0` for the denominators `field` leaves.
REAL_AND_NAT_INDUCTION = _induction(
    base=f"simpl; {_at('O')}; solve [ring | field | lra | nra | lia]",
    step=f"rewrite ?tech5; cbv beta; rewrite ?S_INR; try rewrite IH; {_at('n', '(S n)')}; rewrite ?pow_add; simpl; "
         "try pose proof (pos_INR n); solve [lia | nia | ring | field | (field; lra) | lra | nra]",
)
# Integers indexed by nat: `Z.of_nat (S n)` (`Nat2Z.inj_succ`), the recurrence rewritten at S n, and powers of a
# successor or a sum (`Z.pow_succ_r`, `Z.pow_add_r`, both for non-negative exponents, which lia shows).
INTEGER_INDUCTION = _induction(
    base=f"simpl; {_at('O')}; solve [lia | nia | ring]",
    step="rewrite ?Nat2Z.inj_succ in *; try (" + _RECURRENCE.format("rewrite H") + "); "
         "rewrite ?Z.pow_add_r in * by lia; rewrite ?Z.pow_succ_r in * by lia; rewrite ?Z.pow_1_r in *; "
         "solve [lia | nia | ring]",
)
INDUCTION_TACTICS = [REAL_AND_NAT_INDUCTION, INTEGER_INDUCTION]
# Seconds one run may take (below the search's tactic timeout): where they prove, they take well under one; where
# `simpl` meets large numerals or nia many naturals, they fail slowly. The backend does not run one again on a
# theorem once it has run out of time there.
TIMEOUT = 2.0
