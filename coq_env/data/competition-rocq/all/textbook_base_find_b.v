Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_base_find_b :
  forall b : Z,
  1 < b ->
  2 * b^2 + 5 * b + 3 = 136 ->
  b = 7.
Proof.
