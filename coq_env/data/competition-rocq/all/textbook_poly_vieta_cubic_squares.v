Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_vieta_cubic_squares :
  forall a b c : R,
  a + b + c = 6 ->
  a * b + b * c + c * a = 11 ->
  a^2 + b^2 + c^2 = 14.
Proof.
