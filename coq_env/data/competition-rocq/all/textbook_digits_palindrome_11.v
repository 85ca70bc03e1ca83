Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_digits_palindrome_11 :
  forall a b : Z,
  (11 | 1000 * a + 100 * b + 10 * b + a).
Proof.
