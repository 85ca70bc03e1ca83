Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_cauchy_two :
  forall a b c d : R,
  (a^2 + b^2) * (c^2 + d^2) >= (a * c + b * d)^2.
Proof.
