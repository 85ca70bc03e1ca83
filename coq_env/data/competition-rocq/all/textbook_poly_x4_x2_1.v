Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_x4_x2_1 :
  forall x : R,
  x^4 + x^2 + 1 = (x^2 + x + 1) * (x^2 - x + 1).
Proof.
