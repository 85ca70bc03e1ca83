Require Import Reals.
Open Scope R_scope.

Theorem textbook_sqrt_denest :
  sqrt (3 + 2 * sqrt 2) = 1 + sqrt 2.
Proof.
