Require Import Reals.
Open Scope R_scope.

Theorem textbook_sys_sum_diff_squares :
  forall x y : R,
  x + y = 5 ->
  x^2 - y^2 = 15 ->
  x = 4.
Proof.
