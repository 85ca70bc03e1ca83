Require Import Reals.
Open Scope R_scope.

Theorem textbook_sqrt_rationalize :
  1 / (sqrt 2 + 1) = sqrt 2 - 1.
Proof.
