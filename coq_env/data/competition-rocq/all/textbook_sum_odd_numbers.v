Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_sum_odd_numbers :
  forall n : nat,
  sum_f_R0 (fun k => 2 * INR k + 1) n = (INR n + 1)^2.
Proof.
