Require Import Reals.
Open Scope R_scope.

Theorem textbook_sys_sum_product :
  forall x y : R,
  x + y = 7 ->
  x * y = 12 ->
  y < x ->
  x = 4.
Proof.
