Require Import Reals.
Open Scope R_scope.

Theorem textbook_ineq_three_squares :
  forall a b c : R,
  a^2 + b^2 + c^2 >= a * b + b * c + c * a.
Proof.
