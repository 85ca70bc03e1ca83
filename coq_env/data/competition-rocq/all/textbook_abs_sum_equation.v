Require Import Reals.
Open Scope R_scope.

Theorem textbook_abs_sum_equation :
  forall x : R,
  Rabs x + Rabs (x - 2) = 4 ->
  x = 3 \/ x = -1.
Proof.
