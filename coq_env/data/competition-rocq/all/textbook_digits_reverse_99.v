Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_digits_reverse_99 :
  forall a b c : Z,
  (99 | (100 * a + 10 * b + c) - (100 * c + 10 * b + a)).
Proof.
