Require Import Reals.
Require Import Arith.
Open Scope R_scope.

Theorem textbook_sum_telescoping_products :
  forall n : nat,
  sum_f_R0 (fun k => 1 / ((INR k + 1) * (INR k + 2))) n = (INR n + 1) / (INR n + 2).
Proof.
