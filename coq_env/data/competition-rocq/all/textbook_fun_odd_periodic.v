Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_odd_periodic :
  forall f : R -> R,
  (forall x, f (- x) = - f x) ->
  (forall x, f (x + 2) = f x) ->
  f 1 = 0.
Proof.
