Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_digits_last_two_pow :
  forall n : Z,
  0 <= n ->
  (7 ^ (4 * n + 3)) mod 100 = 43.
Proof.
