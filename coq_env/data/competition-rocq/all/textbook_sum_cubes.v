Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_sum_cubes :
  forall n : nat,
  sum_f_R0 (fun k => INR k ^ 3) n = (INR n * (INR n + 1) / 2)^2.
Proof.
