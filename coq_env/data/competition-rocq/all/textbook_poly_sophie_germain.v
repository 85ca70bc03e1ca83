Require Import Reals.
Open Scope R_scope.

Theorem textbook_poly_sophie_germain :
  forall a b : R,
  a^4 + 4 * b^4 = (a^2 + 2 * b^2 + 2 * a * b) * (a^2 + 2 * b^2 - 2 * a * b).
Proof.
