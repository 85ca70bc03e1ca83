Require Import Reals.
Open Scope R_scope.

Theorem textbook_lin_ages :
  forall f s : R,
  f = 3 * s ->
  f + 12 = 2 * (s + 12) ->
  s = 12.
Proof.
