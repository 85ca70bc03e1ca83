Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_crt_three_five :
  forall n : Z,
  n mod 3 = 2 ->
  n mod 5 = 3 ->
  n mod 15 = 8.
Proof.
