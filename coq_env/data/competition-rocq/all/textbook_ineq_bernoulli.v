Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_bernoulli :
  forall (x : R) (n : nat),
  -1 <= x ->
  1 + INR n * x <= (1 + x)^n.
Proof.
