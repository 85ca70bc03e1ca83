Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_digits_sum_and_product :
  forall a b : Z,
  1 <= a <= 9 ->
  0 <= b <= 9 ->
  10 * a + b = 4 * (a + b) ->
  10 * a + b = 3 * a * b ->
  10 * a + b = 24.
Proof.
