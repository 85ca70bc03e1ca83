"""Absolute values as automation for Rocq: one sentence that splits on the sign of each real `Rabs a`, in the goal
and the hypotheses, and closes every case with lra or nra, or fails.

Why: lra and nra treat `Rabs a` as an unknown (lia does split integers' `Z.abs` itself), and the split is routine
by hand but takes the default model several steps (`unfold Rabs; destruct (Rcase_abs ...)` once per term, then an
arithmetic call per case): `Rabs (x - 3) = 5 -> x = 8 \\/ x = -2` is two cases of linear arithmetic. lra proves a
disjunction of its atoms itself.

Names are qualified; without Reals loaded, Coq refuses the sentence as it reads it, in a millisecond.
"""
from __future__ import annotations

_SIGN = "Coq.Reals.Rbasic_fun.Rcase_abs"
# `progress`: where there is no absolute value, lra and nra alone (which the automation runs anyway) are not run again.
ABSOLUTE_VALUES = (f"intros; unfold Coq.Reals.Rbasic_fun.Rabs in *; progress repeat match goal with "
                   f"|- context[{_SIGN} ?a] => destruct ({_SIGN} a) | H : context[{_SIGN} ?a] |- _ => destruct ({_SIGN} a) "
                   f"end; solve [lra | nra]")
ABSOLUTE_VALUE_TACTICS = [ABSOLUTE_VALUES]
# Seconds one run may take: cases double with each absolute value, and nra fails slowly. The backend does not run it
# again on a theorem once it ran out of time there.
TIMEOUT = 2.0
