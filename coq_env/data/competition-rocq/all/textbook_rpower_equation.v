Require Import Reals.
Open Scope R_scope.

Theorem textbook_rpower_equation :
  forall x : R,
  Rpower 2 x = 8 ->
  x = 3.
Proof.
