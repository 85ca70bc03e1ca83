Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_cubes_nine :
  forall n : Z,
  n^3 mod 9 = 0 \/ n^3 mod 9 = 1 \/ n^3 mod 9 = 8.
Proof.
