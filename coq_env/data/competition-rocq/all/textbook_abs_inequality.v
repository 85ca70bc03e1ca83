Require Import Reals.
Open Scope R_scope.

Theorem textbook_abs_inequality :
  forall x : R,
  Rabs (2 * x - 1) < 3 ->
  -1 < x < 2.
Proof.
