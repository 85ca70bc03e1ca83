Require Import Reals.
Open Scope R_scope.

Theorem textbook_quad_biquadratic :
  forall x : R,
  x^4 - 5 * x^2 + 4 = 0 ->
  x = 1 \/ x = -1 \/ x = 2 \/ x = -2.
Proof.
