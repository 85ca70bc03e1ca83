"""Roots of a polynomial as automation for Rocq: for a goal `x = a \\/ x = b \\/ ...`, one sentence that proves
`(x - a) * (x - b) * ... = 0` by nra (or nia) from the hypotheses, splits the product (a factor is zero) and closes
each case, or fails.

Why: "find every x with p(x) = 0" is stated as a disjunction of the roots, which no decision procedure proves from
`p(x) = 0` directly, and whose proof by hand is always the same: p is the product of its factors (the difference is
zero by ring arithmetic, which nra finds from the hypothesis), and a product is zero where a factor is.

Two sentences, for real and for integer unknowns; each builds the product with its own type's operations, so on the
other type's goal it fails at once. Names are qualified, so they run under any header that loads the type's library.
"""
from __future__ import annotations


def _roots(mul: str, sub: str, zero: str, prove: str, split: str, close: str) -> str:
    # The product of (x - a) over the goal's disjuncts, built by recursion on the disjunction.
    product = (f"let rec product g := lazymatch g with "
               f"| ?x = ?a \\/ ?rest => let p := product rest in constr:({mul} ({sub} x a) p) "
               f"| ?x = ?a => constr:({sub} x a) end in")
    # Only for a disjunction: on one equation the sentence would be its `prove` and `close` again.
    return (f"intros; lazymatch goal with |- _ = _ \\/ _ => idtac end; {product} "
            f"match goal with |- ?g => let p := product g in assert (p = {zero}) by {prove} end; "
            f"repeat match goal with H : {mul} _ _ = _ |- _ => apply {split} in H; destruct H end; {close}")


_R = "Coq.Reals.Rdefinitions"
_Z = "Coq.ZArith.BinInt.Z"
REAL_ROOTS = _roots(f"{_R}.Rmult", f"{_R}.Rminus", f"{_R}.R0", "nra", "Coq.Reals.RIneq.Rmult_integral", "lra")
INTEGER_ROOTS = _roots(f"{_Z}.mul", f"{_Z}.sub", "Coq.Numbers.BinNums.Z0", "nia", f"{_Z}.mul_eq_0", "lia")
ROOT_TACTICS = [REAL_ROOTS, INTEGER_ROOTS]
# Seconds one run may take: nra and nia on a high degree fail slowly. The backend does not run one again on a theorem
# once it ran out of time there.
TIMEOUT = 2.0
