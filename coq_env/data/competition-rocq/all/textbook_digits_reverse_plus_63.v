Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_digits_reverse_plus_63 :
  forall a b : Z,
  0 <= a <= 9 ->
  0 <= b <= 9 ->
  a + b = 9 ->
  10 * b + a = 10 * a + b + 63 ->
  10 * a + b = 18.
Proof.
