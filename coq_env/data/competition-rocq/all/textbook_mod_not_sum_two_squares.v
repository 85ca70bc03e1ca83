Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_mod_not_sum_two_squares :
  forall x y : Z,
  x^2 + y^2 <> 2023.
Proof.
