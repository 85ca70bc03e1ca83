Require Import ZArith.
Open Scope Z_scope.

Theorem textbook_recur_double_plus_one :
  forall a : nat -> Z,
  a 0%nat = 1 ->
  (forall n, a (S n) = 2 * a n + 1) ->
  forall n, a n = 2 ^ (Z.of_nat n + 1) - 1.
Proof.
