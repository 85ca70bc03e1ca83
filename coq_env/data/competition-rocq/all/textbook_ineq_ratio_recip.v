Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_ratio_recip :
  forall a b : R,
  0 < a ->
  0 < b ->
  a / b + b / a >= 2.
Proof.
