Require Import Reals.
Open Scope R_scope.

Theorem textbook_sqrt_equation :
  forall x : R,
  0 <= x ->
  sqrt (x + 9) = 5 ->
  x = 16.
Proof.
