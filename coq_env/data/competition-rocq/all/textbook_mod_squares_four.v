Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_squares_four :
  forall n : Z,
  n^2 mod 4 = 0 \/ n^2 mod 4 = 1.
Proof.
