Require Import ZArith.
Require Import Znumtheory.
Open Scope Z_scope.

Theorem textbook_prime_square_minus_one :
  forall p : Z,
  prime p ->
  3 < p ->
  (24 | p^2 - 1).
Proof.
