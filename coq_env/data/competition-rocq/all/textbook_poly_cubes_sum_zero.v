Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_cubes_sum_zero :
  forall a b c : R,
  a + b + c = 0 ->
  a^3 + b^3 + c^3 = 3 * a * b * c.
Proof.
