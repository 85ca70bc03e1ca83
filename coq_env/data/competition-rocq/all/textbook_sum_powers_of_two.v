Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_sum_powers_of_two :
  forall n : nat,
  sum_f_R0 (fun k => 2 ^ k) n = 2 ^ (n + 1) - 1.
Proof.
