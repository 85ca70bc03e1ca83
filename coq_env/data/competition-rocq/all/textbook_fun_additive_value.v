Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_additive_value :
  forall f : R -> R,
  (forall x y, f (x + y) = f x + f y) ->
  f 1 = 3 ->
  f 5 = 15.
Proof.
