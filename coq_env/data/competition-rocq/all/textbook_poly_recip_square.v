Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_recip_square :
  forall x : R,
  x <> 0 ->
  x + 1 / x = 3 ->
  x^2 + 1 / x^2 = 7.
Proof.
