Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_five_pow_plus_three :
  forall n : nat,
  (5 ^ Z.of_nat n + 3) mod 4 = 0.
Proof.
