Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_floor_div_nested :
  forall n : Z,
  0 <= n ->
  (n / 4) / 5 = n / 20.
Proof.
