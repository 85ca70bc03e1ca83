Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_two_pow_hundred :
  (2 ^ 100) mod 7 = 2.
Proof.
