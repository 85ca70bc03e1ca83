Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_div_three_cubes :
  forall n : Z,
  (9 | n^3 + (n + 1)^3 + (n + 2)^3).
Proof.
