Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_quad_int_positive_root :
  forall n : Z,
  0 < n ->
  n^2 - 3 * n - 10 = 0 ->
  n = 5.
Proof.
