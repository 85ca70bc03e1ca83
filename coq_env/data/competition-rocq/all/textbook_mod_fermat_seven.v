Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_fermat_seven :
  forall n : Z,
  (n^7 - n) mod 7 = 0.
Proof.
