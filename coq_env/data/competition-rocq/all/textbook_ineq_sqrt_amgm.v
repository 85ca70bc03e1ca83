Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_sqrt_amgm :
  forall x y : R,
  0 <= x ->
  0 <= y ->
  sqrt (x * y) <= (x + y) / 2.
Proof.
