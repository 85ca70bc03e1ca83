Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_recip_cube :
  forall x : R,
  x <> 0 ->
  x + 1 / x = 3 ->
  x^3 + 1 / x^3 = 18.
Proof.
