Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_poly_integer_roots_cubic :
  forall x : Z,
  x^3 - 3 * x^2 - 4 * x + 12 = 0 ->
  x = 3 \/ x = 2 \/ x = -2.
Proof.
