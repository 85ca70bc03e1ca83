"""Reciprocals as automation for Rocq: one sentence that makes each real `/ x` (and so each `a / x`) an unknown `y`
with `x * y = 1` (and `y > 0` where `x > 0`), then closes the goal with nra, or fails.

Why: lra and nra do not see through a division, and `field` proves identities, not consequences of hypotheses:
`x + 1 / x = 3 -> x ^ 2 + 1 / x ^ 2 = 7` is polynomial arithmetic in x and y = 1 / x once `x * y = 1` is known.

A reciprocal of a power is first made a power of the reciprocal (`pow_inv`), so `1 / x ^ 3` and `1 / x` are one
unknown. Innermost first, as for square roots; a reciprocal is made an unknown only where `x <> 0` is a hypothesis or
follows by lra or nra, so the sentence never needs a division by zero to be anything. Names are qualified: without
Reals loaded Coq refuses the sentence as it reads it, in a millisecond.
"""
from __future__ import annotations

_REALS = "Coq.Reals.Rdefinitions"
_INV = f"{_REALS}.Rinv"
_AS_UNKNOWN = (f"lazymatch x with context[{_INV} _] => fail | _ => idtac end; "
               f"let y := fresh \"y\" in let Hy := fresh \"Hy\" in "
               f"assert (Hy : x * {_INV} x = 1) by (apply Coq.Reals.RIneq.Rinv_r; first [assumption | lra | nra]); "
               f"try pose proof (Coq.Reals.RIneq.Rinv_0_lt_compat x ltac:(nra)); set (y := {_INV} x) in *; clearbody y")
# `progress`: where no reciprocal became an unknown, nra alone (which the automation runs anyway) is not run again.
RECIPROCALS = (f"intros; unfold {_REALS}.Rdiv in *; rewrite <- ?Coq.Reals.Rfunctions.pow_inv in *; "
               f"progress repeat match goal with H : context[{_INV} ?x] |- _ => {_AS_UNKNOWN} "
               f"| |- context[{_INV} ?x] => {_AS_UNKNOWN} end; nra")
RECIPROCAL_TACTICS = [RECIPROCALS]
# Seconds one run may take: where it proves, under a second; nra over several unknowns fails slowly. The backend
# does not run it again on a theorem once it ran out of time there.
TIMEOUT = 2.0
