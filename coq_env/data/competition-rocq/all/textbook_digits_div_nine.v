Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_digits_div_nine :
  forall a b c : Z,
  (9 | a + b + c) ->
  (9 | 100 * a + 10 * b + c).
Proof.
