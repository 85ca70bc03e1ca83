Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_linear_congruence :
  forall x : Z,
  0 <= x < 11 ->
  (3 * x) mod 11 = 5 ->
  x = 9.
Proof.
