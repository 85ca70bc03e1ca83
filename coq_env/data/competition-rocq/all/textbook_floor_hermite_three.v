Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_floor_hermite_three :
  forall n : Z,
  n / 3 + (n + 1) / 3 + (n + 2) / 3 = n.
Proof.
