Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_recur_fibonacci_sum :
  forall f : nat -> R,
  f 0%nat = 0 ->
  f 1%nat = 1 ->
  (forall n, f (S (S n)) = f (S n) + f n) ->
  forall n, sum_f_R0 f n = f (S (S n)) - 1.
Proof.
