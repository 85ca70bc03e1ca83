Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_recip_sum_one :
  forall a b : R,
  0 < a ->
  0 < b ->
  a + b = 1 ->
  1 / a + 1 / b >= 4.
Proof.
