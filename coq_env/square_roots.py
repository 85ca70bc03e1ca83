"""Square roots as automation for Rocq: one sentence that makes each real `sqrt a` an unknown `s` with `s >= 0` and
`s * s = a`, then closes the goal with nra (or field, then nra), or fails.

Why: nra and lra know nothing of `sqrt`, and the facts they need are two lemmas away (`sqrt_pos`, `sqrt_sqrt`), which
the default model does not think to state: `sqrt (x + 9) = 5 -> x = 16` and `sqrt (3 + 2 * sqrt 2) = 1 + sqrt 2` are
polynomial arithmetic once each root is an unknown with those two facts.

Innermost roots first, so that the condition `0 <= a` of an outer one can use the inner one's `s >= 0`; where nra
cannot show `0 <= a`, the root keeps only `s >= 0`. Names are qualified (`Coq.Reals.R_sqrt.sqrt`): a header that
imports `Nat` makes the short `sqrt` the natural number one; without Reals loaded, Coq refuses the tactic as it reads
it, in a millisecond.
"""
from __future__ import annotations

_SQRT = "Coq.Reals.R_sqrt.sqrt"
# One root `sqrt a` whose radicand has no root in it, as the unknown s.
_AS_UNKNOWN = (f"lazymatch a with context[{_SQRT} _] => fail | _ => idtac end; "
               f"pose proof (Coq.Reals.R_sqrt.sqrt_pos a); try pose proof (Coq.Reals.R_sqrt.sqrt_sqrt a ltac:(nra)); "
               f"let s := fresh \"s\" in set (s := {_SQRT} a) in *; clearbody s")
# `progress`: where there is no root, nra alone (which the automation runs anyway) is not run again.
SQUARE_ROOTS = (f"intros; progress repeat match goal with H : context[{_SQRT} ?a] |- _ => {_AS_UNKNOWN} "
                f"| |- context[{_SQRT} ?a] => {_AS_UNKNOWN} end; solve [nra | field; nra]")
SQUARE_ROOT_TACTICS = [SQUARE_ROOTS]
# Seconds one run may take: where it proves, about a second; nra over several roots fails slowly. The backend does
# not run it again on a theorem once it ran out of time there.
TIMEOUT = 2.0
