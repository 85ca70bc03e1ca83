Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_floor_count_multiples :
  forall n : Z,
  0 <= n ->
  n / 2 + n / 3 - n / 6 <= n.
Proof.
