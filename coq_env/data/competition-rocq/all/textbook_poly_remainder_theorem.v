Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_remainder_theorem :
  forall p : R -> R,
  (forall x, p x = x^3 - 2 * x^2 + 3 * x - 4) ->
  p 2 = 2.
Proof.
