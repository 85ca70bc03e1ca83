Require Import Reals.
Open Scope R_scope.

Theorem textbook_quad_roots_5_6 :
  forall x : R,
  x^2 - 5 * x + 6 = 0 ->
  x = 2 \/ x = 3.
Proof.
