Require Import Reals.
Open Scope R_scope.

Theorem textbook_abs_equation :
  forall x : R,
  Rabs (x - 3) = 5 ->
  x = 8 \/ x = -2.
Proof.
