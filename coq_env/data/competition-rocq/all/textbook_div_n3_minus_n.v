Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_div_n3_minus_n :
  forall n : Z,
  (6 | n^3 - n).
Proof.
