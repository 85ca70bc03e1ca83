Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_sum_squares :
  forall n : nat,
  sum_f_R0 (fun k => INR k ^ 2) n = INR n * (INR n + 1) * (2 * INR n + 1) / 6.
Proof.
