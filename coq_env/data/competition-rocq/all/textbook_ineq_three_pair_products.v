Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_three_pair_products :
  forall a b c : R,
  0 < a ->
  0 < b ->
  0 < c ->
  (a + b) * (b + c) * (c + a) >= 8 * a * b * c.
Proof.
