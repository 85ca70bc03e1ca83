Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_div_seven_eight_pow :
  forall n : nat,
  (7 | 2 ^ (3 * Z.of_nat n) - 1).
Proof.
