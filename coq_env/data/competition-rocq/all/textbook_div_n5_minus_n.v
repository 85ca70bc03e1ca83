Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_div_n5_minus_n :
  forall n : Z,
  (30 | n^5 - n).
Proof.
