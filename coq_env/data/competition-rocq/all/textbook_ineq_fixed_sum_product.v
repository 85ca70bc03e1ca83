Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_fixed_sum_product :
  forall x y : R,
  x + y = 10 ->
  x * y <= 25.
Proof.
