Require Import Reals.
Open Scope R_scope.

Theorem textbook_fun_log_like :
  forall f : R -> R,
  (forall x y, 0 < x -> 0 < y -> f (x * y) = f x + f y) ->
  f 2 = 1 ->
  f 8 = 3.
Proof.
