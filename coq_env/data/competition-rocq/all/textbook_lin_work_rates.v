Require Import Reals.
Open Scope R_scope.

Theorem textbook_lin_work_rates :
  forall t : R,
  t * (1 / 6 + 1 / 3) = 1 ->
  t = 2.
Proof.
